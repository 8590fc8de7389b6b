#!/usr/bin/env python
import os
import sys
import traceback
from pathlib import Path

SETTINGS_FILES = {str(Path(__file__).resolve().parent / "sprite_backend" / "settings.py")}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sprite_backend.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # The settings refusing the environment (a missing SECRET_KEY, a value out of bounds) is the
        # operator's to fix: one line naming the variable, not a traceback through Django's loader.
        if not any(str(Path(frame.filename).resolve()) in SETTINGS_FILES
                   for frame in traceback.extract_tb(exc.__traceback__)):
            raise
        sys.exit(f"ImproperlyConfigured: {exc}")


if __name__ == "__main__":
    main()
