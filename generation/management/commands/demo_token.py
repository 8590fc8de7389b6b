import os
import re
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework_api_key.crypto import concatenate

from generation.models import ApiToken

DEMO_TOKEN_NAME = "make run demo"
# What rest_framework_api_key's generator makes: an 8-character prefix, a dot, a 32-character secret.
KEY_SHAPE = re.compile(r"[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}")


class Command(BaseCommand):
    help = ("DEBUG only: print the API token of the staff user 'demo', ready for the README's curl. The same "
            "token on every run (kept in DEMO_TOKEN_FILE, .demo_token), so a plugin configured with it keeps "
            "working; revoke it in the admin and the next run prints a new one.")

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("demo_token only runs with DEBUG on; use create_api_token in production.")
        user, _ = get_user_model().objects.get_or_create(username="demo", defaults={"is_staff": True})
        path = Path(settings.DEMO_TOKEN_FILE)
        key = self.reusable(read_key(path), user)
        if key is None:
            _, key = ApiToken.objects.create_key(user=user, name=DEMO_TOKEN_NAME)
            write_key(path, key)
        # Exactly one working demo token: any other one (from an older run) stops working.
        ApiToken.objects.filter(user=user, name=DEMO_TOKEN_NAME, revoked=False).exclude(
            prefix=key.partition(".")[0]).update(revoked=True)
        self.stdout.write(f"\nDemo API token (user 'demo', staff; the same on every run):\n\n"
                          f"    export TOKEN={key}\n\n"
                          "Try it in the browser: http://127.0.0.1:8000/v1/docs/ -> Authorize (paste the token) -> "
                          "POST /v1/generate -> Try it out -> Execute.\n")

    @staticmethod
    def reusable(key: str | None, user) -> str | None:
        """The saved key if it still works or its row is gone (a fresh database: it is stored again);
        None if an admin revoked it, it expired, or its prefix now belongs to another token."""
        if key is None:
            return None
        prefix = key.partition(".")[0]
        row = ApiToken.objects.filter(prefix=prefix).first()
        if row is None:
            hashed = ApiToken.objects.key_generator.hash(key)
            ApiToken.objects.create(id=concatenate(prefix, hashed), prefix=prefix, hashed_key=hashed, user=user,
                                    name=DEMO_TOKEN_NAME)
            return key
        usable = (row.user_id == user.pk and row.name == DEMO_TOKEN_NAME and not row.revoked
                  and not row.has_expired and row.is_valid(key))
        return key if usable else None


def read_key(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if KEY_SHAPE.fullmatch(text) else None


def write_key(path: Path, key: str) -> None:
    """Readable by its owner only, like .env; replaced whole, never half-written."""
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(key + "\n")
    os.replace(partial, path)
