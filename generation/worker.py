"""The async job worker: RQ's forking worker, with the app loaded once before any fork.

RQ's `Worker` forks a work-horse per job. A plain worker imports nothing of ours up front, so
every horse imported the engine and LiteLLM afresh (3-4 s a job, of ~20 ms of work). Loading
them in the parent makes each fork start with everything in memory (copy-on-write), and keeps
what forking buys: a crashed, leaking or hung job dies with its horse, and the job timeout can
kill it. docs/WORKER.md weighs this against `SimpleWorker` and `SpawnWorker`, with figures.
"""
import gc
import logging
import threading

from django.db import connections

from .engine.reaper import ReapingWorker

logger = logging.getLogger("generation")


def _warm_up() -> None:
    """One call to the offline model: LiteLLM's first call imports modules and builds pydantic
    schemas lazily (~200 ms), which every horse would otherwise pay again.

    Marked as LiteLLM-internal so that it submits no logging callback: that would start a
    thread, and a thread does not survive a fork (the horse's executor would wait on a dead one).
    """
    from litellm._internal_context import is_internal_call

    from .providers import OFFLINE_PROVIDER, call_model, request_for
    from .styles import DEFAULT_STYLE, STYLES

    request = request_for(f"{OFFLINE_PROVIDER}/warm-up", prompt="warm-up", size=8, seed=0, transparent=True,
                          style=STYLES[DEFAULT_STYLE])
    marker = is_internal_call.set(True)
    try:
        call_model(request, timeout=10)
    finally:
        is_internal_call.reset(marker)


def preload() -> None:
    """Import and warm everything a job touches, so that no horse pays for it."""
    from .engine import generator, jobs  # noqa: F401  (the job function and the request loop)
    from .providers import load_litellm

    load_litellm()
    try:
        _warm_up()
    except Exception:  # a newer LiteLLM may move its internals: slower jobs, not a dead worker
        logger.warning("worker_warm_up_failed", exc_info=True, extra={"event": "worker_warm_up_failed"})
    if threading.active_count() > 1:
        logger.warning("worker_threads_before_fork", extra={"event": "worker_threads_before_fork",
                                                              "threads": [t.name for t in threading.enumerate()]})
    # Without this, a horse's first garbage collection walks (and so writes to) every object the
    # parent loaded, copying hundreds of MB page by page. Frozen objects are never walked.
    gc.collect()
    gc.freeze()


class PreloadedWorker(ReapingWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        preload()

    def fork_work_horse(self, job, queue):
        # A database connection opened in the parent would be shared by every horse's socket.
        for connection in connections.all(initialized_only=True):
            connection.close()
        super().fork_work_horse(job, queue)
