"""Clear what the pacer learned about a model (or every model): limit, window, pause, booked calls."""
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from generation.admin.forms import validate_model_string
from generation.quota import pacing


class Command(BaseCommand):
    help = ("Clear the pacer's learned state of MODEL (limit, window, pause, booked calls), in Redis for every "
            "worker and host; without MODEL, of every model. The next call probes the quota again.")

    def add_arguments(self, parser):
        parser.add_argument("model", nargs="?", help="a model string, e.g. openai/gpt-image-2 (default: all)")

    def handle(self, *args, model=None, **options):
        if model is not None:
            try:
                validate_model_string(model)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
        cleared = pacing.forget(model)
        self.stdout.write(f"pacer state cleared for {model or 'every model'} ({cleared} keys)")
