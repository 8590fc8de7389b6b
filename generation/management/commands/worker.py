from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("Run the async job worker: up to SPRITE_WORKER_CONCURRENCY generations at once, from the queue in "
            "Redis (docs/WORKER.md). Needs REDIS_URL. Stops on SIGTERM or SIGINT, letting running ones finish.")

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=None,
                            help="generations at once (default: SPRITE_WORKER_CONCURRENCY)")

    def handle(self, *args, **options):
        if not settings.REDIS_URL:
            # Without Redis the web process runs async requests itself; a worker would wait on a queue nobody fills.
            raise CommandError("REDIS_URL is not set, so async requests run in the web process and there is no "
                               "queue to work. Set REDIS_URL (in .env, or the environment) for both.")
        concurrency = options["concurrency"]
        if concurrency is not None and not 1 <= concurrency <= 1000:
            raise CommandError(f"--concurrency={concurrency} is outside 1..1000")
        from generation import worker

        worker.run(concurrency=concurrency)
