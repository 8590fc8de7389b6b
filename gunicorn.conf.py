"""Production sizing for `gunicorn sprite_backend.wsgi:application`.

Generation requests spend most of their time waiting on the provider (or
backing off), so workers are threaded: a sleeping request holds a thread,
not a process. LiteLLM's import is heavy (~200 MB, seconds), so the app is
preloaded once in the master and shared copy-on-write by the workers.
"""
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
preload_app = True
# A request may legitimately wait for SPRITE_LITELLM_MAX_WAIT plus a few
# upstream calls; the worker timeout must not cut it short.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "900"))
graceful_timeout = 30
accesslog = "-"
errorlog = "-"
