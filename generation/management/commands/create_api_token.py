from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from generation.models import ApiToken


class Command(BaseCommand):
    help = "Create USERNAME if missing and print a new API token, alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--staff", action="store_true", help="the token may read /v1/metrics")
        parser.add_argument("--name", default="", help="a label shown in the admin (default: cli)")

    def handle(self, *args, username: str, staff: bool, name: str, **options):
        user, created = get_user_model().objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()
        if staff and not user.is_staff:
            user.is_staff = True
        user.save()
        _, key = ApiToken.objects.create_key(user=user, name=name or "cli")
        self.stderr.write(f"{'Created' if created else 'Found'} user {username!r}{' (staff)' if user.is_staff else ''}; "
                          "the token below is shown once and stored only as a hash.")
        self.stdout.write(key)
