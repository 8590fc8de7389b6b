from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from generation.models import ApiToken


class Command(BaseCommand):
    help = "DEBUG only: print a fresh API token for the staff user 'demo', ready for the README's curl."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("demo_token only runs with DEBUG on; use create_api_token in production.")
        user, _ = get_user_model().objects.get_or_create(username="demo", defaults={"is_staff": True})
        _, key = ApiToken.objects.create_key(user=user, name="make run demo")
        self.stdout.write(f"\nDemo API token (user 'demo', staff):\n\n    export TOKEN={key}\n")
