"""Finish lost requests as failed `interrupted`: once, or every N seconds (the reaper service)."""
import logging
import signal
import threading
import time

from django.core.management.base import BaseCommand, CommandError

from generation.engine import heartbeats, inflight
from generation.engine.reaper import reap

REAP_INTERVAL = 30  # seconds: with SPRITE_INTERRUPT_GRACE (30 s), a lost row is finished within a minute


class Command(BaseCommand):
    help = ("Finish requests left queued or running by a crash, a kill or a lost job as failed `interrupted`, "
            "and requests still queued past their deadline as failed `upstream_timeout`.")

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=None, metavar="SECONDS",
                            help=f"keep running, reaping every SECONDS (the reaper service uses {REAP_INTERVAL})")

    def handle(self, *args, **options):
        every = options["every"]
        if every is None:
            self.stdout.write(f"{len(reap())} finished")
            return
        if not 1 <= every <= 3600:
            raise CommandError(f"--every={every} is outside 1..3600 seconds")
        # Dramatiq has no scheduler, and one loop needs none: the next run starts `every` seconds
        # after the last ended, so runs never overlap, and a run that fails is retried next time.
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        started = time.time()
        while not stop.is_set():
            # Its container's healthcheck looks for this: the loop turns and reaches Redis.
            heartbeats.beat(inflight.ident(), threads=0, started=started, prefix=heartbeats.REAPER_PREFIX,
                            ttl=int(every * 3) + heartbeats.TTL)
            try:
                finished = reap()
            except Exception:  # the database or Redis away for a moment: the next run tries again
                logging.getLogger("generation").exception("reap_failed", extra={"event": "reap_failed"})
            else:
                if finished:
                    self.stdout.write(f"{len(finished)} finished")
            stop.wait(every)
