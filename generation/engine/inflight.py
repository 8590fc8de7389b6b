"""The requests this process is working on right now, so that its exit hooks can finish them."""
import threading
from contextlib import contextmanager

_held: set[str] = set()
_lock = threading.Lock()


@contextmanager
def holding(request_id):
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
