"""Production sizing for `gunicorn sprite_backend.wsgi:application`.

Generation requests spend most of their time waiting on the provider (or
backing off), so workers are threaded: a sleeping request holds a thread,
not a process. LiteLLM's import is heavy (~200 MB, seconds), so the app is
preloaded once in the master and shared copy-on-write by the workers.
"""
import os
import shutil
import tempfile

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
# A deploy's SIGTERM: workers stop accepting and in-flight requests get this long to
# finish. It covers the default SPRITE_LITELLM_TOTAL_TIMEOUT (180 s), so a request
# arriving just before the signal is still answered; requests still running past it
# are finished as `interrupted` by the exit hooks below (or, failing those, the reaper).
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "190"))
accesslog = "-"
errorlog = "-"
# The access line ends with the response's X-Request-ID, the id our own log lines carry.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %({x-request-id}o)s'

# Prometheus: every worker writes its values to files in one directory and /metrics sums them
# (generation/metrics.py). prometheus_client reads the variable at import, so set it here, before
# the app is loaded. Our own directory is made fresh and removed at exit; an operator's is emptied
# at start, since files left by an earlier run would count twice.
_OWN_METRICS_DIR = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="sprites-prometheus-")
METRICS_DIR = os.environ["PROMETHEUS_MULTIPROC_DIR"]


def on_starting(server):
    os.makedirs(METRICS_DIR, exist_ok=True)
    for name in os.listdir(METRICS_DIR):
        if name.endswith(".db"):
            os.remove(os.path.join(METRICS_DIR, name))


def on_exit(server):
    if _OWN_METRICS_DIR:
        shutil.rmtree(METRICS_DIR, ignore_errors=True)


if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
    from gunicorn.glogging import Logger

    class JsonLogger(Logger):
        """LOG_FORMAT=json: gunicorn's own lines are JSON objects too, so that every line parses."""

        def setup(self, cfg):
            super().setup(cfg)
            from generation.logfmt import JsonFormatter

            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.setFormatter(JsonFormatter())

    logger_class = JsonLogger


def _interrupt_held(worker, how: str) -> None:
    try:
        from generation.engine import reaper

        reaper.interrupt_held(reaper.Reason.WORKER_EXIT, signal=how, pid=worker.pid)
    except Exception:  # a hook must never keep a worker from exiting; the reaper is the backstop
        worker.log.exception("could not mark the requests of worker %s as interrupted", worker.pid)


# The worker's own wait for in-flight requests ends this much before the master's SIGKILL,
# so that `worker_exit` below still runs: the worker checks its deadline about once a second.
EXIT_MARGIN = 2


def when_ready(server):
    # The app was preloaded in this master; a database pool it opened (a start-up check's
    # query) has threads and sockets that must not be shared with the forked workers.
    from django.db import connections

    for conn in connections.all():
        conn.close()
        if hasattr(conn, "close_pool"):
            conn.close_pool()


def post_worker_init(worker):
    # Only this worker's copy of the config (it is a forked process): the master keeps the full timeout.
    worker.cfg.set("graceful_timeout", max(0, graceful_timeout - EXIT_MARGIN))
    # At most half of the threads may wait on slow request bodies; the rest keep serving
    # /healthz and everything else (generation/api/bodies.py).
    from generation.api import bodies

    bodies.readers.limit = max(1, worker.cfg.threads // 2)


def worker_int(worker):  # SIGINT / SIGQUIT: quick shutdown
    _interrupt_held(worker, "int")


def worker_abort(worker):  # SIGABRT: gunicorn's own worker timeout
    _interrupt_held(worker, "abort")


def worker_exit(server, worker):  # the end of a graceful exit, in the worker itself
    _interrupt_held(worker, "exit")


def child_exit(server, worker):  # in the master, once a worker is gone, however it died
    try:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, METRICS_DIR)  # its gauges go; its counters still count
    except Exception:
        server.log.exception("could not drop the metrics of dead worker %s", worker.pid)
    try:
        from django.db import connections

        from generation.engine import inflight, reaper

        try:
            reaper.interrupt_held_by(inflight.ident(worker.pid))
        finally:
            connections.close_all()  # the master forks the next worker: it must not inherit a connection
    except Exception:  # the master must outlive its workers' troubles; the reaper is the backstop
        server.log.exception("could not mark the requests of dead worker %s as interrupted", worker.pid)
