"""Finish lost requests as failed `interrupted` (what the scheduled reaper runs)."""
from django.core.management.base import BaseCommand

from generation.engine.reaper import reap


class Command(BaseCommand):
    help = ("Finish requests left queued or running by a crash, a kill or a lost job as failed `interrupted`, "
            "and requests still queued past their deadline as failed `upstream_timeout`.")

    def handle(self, *args, **options):
        finished = reap()
        self.stdout.write(f"{len(finished)} finished")
