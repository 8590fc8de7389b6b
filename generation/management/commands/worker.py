from django.conf import settings
from django.core.management.base import CommandError
from django_rq.management.commands import rqworker


class Command(rqworker.Command):
    help = "Run the async job worker on the `default` queue (generation.worker.PreloadedWorker). Needs REDIS_URL."

    def handle(self, *args, **options):
        if not settings.REDIS_URL:
            # Without Redis the web process runs async requests itself; a worker would wait on a queue nobody fills.
            raise CommandError("REDIS_URL is not set, so async requests run in the web process and there is no "
                               "queue to work. Set REDIS_URL (in .env, or the environment) for both.")
        options["worker_class"] = options.get("worker_class") or "generation.worker.PreloadedWorker"
        super().handle(*(args or ("default",)), **options)
