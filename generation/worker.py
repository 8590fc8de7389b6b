"""The async job worker: one process, SPRITE_WORKER_CONCURRENCY Dramatiq threads, the app loaded first.

A generation spends nearly all its time waiting on a provider, so threads carry it: one
process holds a hundred generations in flight for the memory of one (docs/WORKER.md weighs
this against RQ's fork per job and Celery's thread pool, with figures). Before the first
thread starts, `preload` imports the engine and LiteLLM (seconds) and makes one call to the
offline model, so that no job pays for imports or LiteLLM's lazy set-up.

While it runs, the worker sends heartbeats (`engine.heartbeats`), serves its Prometheus
metrics, and on SIGTERM or SIGINT stops taking messages, lets running generations finish
for up to `STOP_TIMEOUT` seconds (a second signal: at once), finishes what is still running
as `interrupted`, and puts the messages it had fetched but not started back on the queue.
"""
import logging
import signal
import threading
import time

from django.conf import settings
from django.db import connection

from .engine import heartbeats, inflight, jobs, reaper, scrape

logger = logging.getLogger("generation")

STOP_TIMEOUT = 180.0  # seconds running generations get to finish on SIGTERM (SPRITE_LITELLM_TOTAL_TIMEOUT's default)
DELAY_PREFETCH_PER_THREAD = 10  # deferred messages held in memory per thread; the rest wait in Redis


def _warm_up() -> None:
    """One call to the offline model: LiteLLM's first call imports modules and builds pydantic
    schemas lazily (~200 ms), which the first jobs would otherwise pay for, all at once."""
    from .providers import OFFLINE_PROVIDER, call_model, request_for
    from .styles import DEFAULT_STYLE, STYLES

    call_model(request_for(f"{OFFLINE_PROVIDER}/warm-up", prompt="warm-up", size=8, seed=0, transparent=True,
                           style=STYLES[DEFAULT_STYLE]), timeout=10)


def preload() -> None:
    """Import and warm everything a job touches, before any thread needs it."""
    from .engine import generator  # noqa: F401  (the request loop)
    from .providers import load_litellm

    load_litellm()
    try:
        _warm_up()
    except Exception:  # a newer LiteLLM may change its internals: a slower first job, not a dead worker
        logger.warning("worker_warm_up_failed", exc_info=True, extra={"event": "worker_warm_up_failed"})


def _size_db_pool(size: int) -> None:
    """The worker's threads share SPRITE_WORKER_DB_POOL_SIZE connections (PostgreSQL's pool)."""
    pool = connection.pool if hasattr(connection, "pool") else None  # None: SQLite, or no pool
    if pool is not None:
        pool.resize(min(pool.min_size, size), size)


def _serve_metrics(port: int) -> int | None:
    """This process's registry on `port` (0: a free one); the port, or None when it is taken."""
    from prometheus_client import REGISTRY, start_http_server

    REGISTRY.register(scrape.pacer_collector)
    REGISTRY.register(scrape.queue_collector)
    try:
        server, _ = start_http_server(port, registry=REGISTRY)
    except OSError as exc:  # two workers on one host: the second runs without an exporter
        logger.warning("worker_metrics_unavailable", extra={"event": "worker_metrics_unavailable", "port": port,
                                                            "error": str(exc)})
        return None
    return server.server_port


class Heart(threading.Thread):
    """Renews the worker's heartbeat every INTERVAL seconds until stopped."""

    def __init__(self, name: str, threads: int):
        super().__init__(name="heartbeat", daemon=True)
        self.worker_name, self.threads, self.started = name, threads, time.time()
        self.stopped = threading.Event()

    def beat(self) -> bool:
        return heartbeats.beat(self.worker_name, threads=self.threads, started=self.started)

    def run(self) -> None:
        while not self.stopped.wait(heartbeats.INTERVAL):
            self.beat()

    def stop(self) -> None:
        self.stopped.set()
        heartbeats.forget(self.worker_name)


def run(*, concurrency: int | None = None) -> None:
    """Work the queue until SIGTERM or SIGINT."""
    import dramatiq

    concurrency = concurrency or settings.SPRITE_WORKER_CONCURRENCY
    preload()
    _size_db_pool(settings.SPRITE_WORKER_DB_POOL_SIZE)
    port = _serve_metrics(settings.SPRITE_WORKER_METRICS_PORT)
    name = heartbeats.name_of(inflight.ident())
    heart = Heart(name, concurrency)
    heart.beat()  # before the first claim: a row running under a worker with no heartbeat is reaped
    heart.start()

    worker = dramatiq.Worker(jobs.broker(), queues=set(jobs.QUEUES), worker_threads=concurrency)
    # Fetch no more than it has threads for: a message held here waiting for a thread is one
    # another worker, idle, could have run (Dramatiq's default is twice as many).
    worker.queue_prefetch = concurrency
    worker.delay_prefetch = concurrency * DELAY_PREFETCH_PER_THREAD
    stopping = threading.Event()
    signals = []

    def on_signal(signum, frame):
        signals.append(signum)
        stopping.set()
        if len(signals) > 1:
            logger.warning("worker_stopping_now", extra={"event": "worker_stopping_now"})

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    worker.start()
    logger.info("worker_started", extra={"event": "worker_started", "worker": name, "threads": concurrency,
                                         "queues": ",".join(jobs.QUEUES), "metrics_port": port})
    stopping.wait()
    logger.info("worker_stopping", extra={"event": "worker_stopping", "worker": name, "running": len(inflight.held())})
    stopper = threading.Thread(target=worker.stop, kwargs={"timeout": int(STOP_TIMEOUT * 1000)}, daemon=True)
    stopper.start()
    while stopper.is_alive() and len(signals) < 2:
        stopper.join(0.2)
    # Whatever still runs will not be answered by this process.
    reaper.interrupt_held(reaper.Reason.WORKER_EXIT, worker=name)
    heart.stop()
    logger.info("worker_stopped", extra={"event": "worker_stopped", "worker": name})
