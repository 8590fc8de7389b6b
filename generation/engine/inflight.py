"""The requests this process is working on right now, so that its death or exit finishes them.

In memory, for the process's own exit hooks (gunicorn's worker_exit); and on the row
(`worker`), for whoever outlives a process killed outright (gunicorn's master; for an async worker,
the reaper and redelivered messages, by its heartbeat).
"""
import os
import socket
import threading
from contextlib import contextmanager

from ..models import GenerationRequest

_held: set[str] = set()
_lock = threading.Lock()


def ident(pid: int | None = None) -> str:
    """This process (or a child of it, by pid) as rows record it."""
    return f"{socket.gethostname()}:{pid or os.getpid()}"[:100]


@contextmanager
def holding(request_id, *, recorded: bool = False):
    """Marks a request as worked on here; `recorded` when its row already names this process."""
    if not recorded:
        GenerationRequest.objects.filter(pk=request_id).update(worker=ident())
    with _lock:
        _held.add(str(request_id))
    try:
        yield
    finally:
        with _lock:
            _held.discard(str(request_id))


def held() -> list[str]:
    with _lock:
        return list(_held)
