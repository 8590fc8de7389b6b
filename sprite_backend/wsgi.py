import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sprite_backend.settings")

application = get_wsgi_application()

# Importing LiteLLM takes seconds; pay it at boot (once, in the gunicorn master
# with preload_app) rather than on a user's first request.
from django.core.exceptions import ImproperlyConfigured  # noqa: E402

from generation import providers  # noqa: E402
from generation.checks import environment_models  # noqa: E402

providers.load_litellm()
# A model string LiteLLM cannot route would fail every request: refuse to start instead.
for _variable, _model in environment_models():
    if _problem := providers.routing_problem(_model):
        raise ImproperlyConfigured(f"{_variable}: {_problem}")
