from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from generation.models import ApiToken

DEMO_TOKEN_NAME = "make run demo"


class Command(BaseCommand):
    help = ("DEBUG only: print a fresh API token for the staff user 'demo', ready for the README's curl. "
            "It replaces the one the last run printed, which stops working.")

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("demo_token only runs with DEBUG on; use create_api_token in production.")
        user, _ = get_user_model().objects.get_or_create(username="demo", defaults={"is_staff": True})
        # Tokens are stored hashed, so the last one cannot be printed again: revoke it instead,
        # so that every `make run` leaves exactly one working demo token.
        ApiToken.objects.filter(user=user, name=DEMO_TOKEN_NAME, revoked=False).update(revoked=True)
        _, key = ApiToken.objects.create_key(user=user, name=DEMO_TOKEN_NAME)
        self.stdout.write(f"\nDemo API token (user 'demo', staff; replaces the last one printed):\n\n"
                          f"    export TOKEN={key}\n")
