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
# A generation holds its thread while it waits on the provider or for a pacer slot, but
# no database connection (docs/CAPACITY.md): 2 x 128 threads keep 200+ generations in
# flight and leave threads free for /healthz and /v1/styles.
threads = int(os.environ.get("GUNICORN_THREADS", "128"))
preload_app = True
# Above the largest SPRITE_LITELLM_TOTAL_TIMEOUT (900 s): the service ends every
# request itself, within its budget; gunicorn must never cut one short.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "930"))
graceful_timeout = 30
accesslog = "-"
errorlog = "-"
