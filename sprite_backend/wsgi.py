import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sprite_backend.settings")

application = get_wsgi_application()

# Importing LiteLLM takes seconds; pay it at boot (once, in the gunicorn master
# with preload_app) rather than on a user's first request.
from generation import providers  # noqa: E402

providers.load_litellm()
