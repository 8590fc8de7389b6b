"""The worker's and the reaper's container healthchecks: `python -m sprite_backend.process_healthcheck worker|reaper`.

Exits 0 when a process of this container (its host name, and a pid alive here) has a live
heartbeat in Redis: the async worker beats every 5 s (`generation/engine/heartbeats.py`), the
reaper loop at each of its turns (`manage.py reap_generations --every N`). A live heartbeat says the
process runs, reaches Redis, and its loop turns. Reads REDIS_URL only; Django is not set up.
"""
import os
import socket
import sys

from redis import Redis

from generation.engine.heartbeats import KEY_PREFIX, REAPER_PREFIX, ROW_PREFIX

PREFIXES = {"worker": KEY_PREFIX + ROW_PREFIX, "reaper": REAPER_PREFIX}


def alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return False
    return True


def main(kind: str) -> int:
    if kind not in PREFIXES:
        print(f"usage: python -m sprite_backend.process_healthcheck {'|'.join(PREFIXES)}", file=sys.stderr)
        return 2
    mine = f"{PREFIXES[kind]}{socket.gethostname()}:"
    try:
        connection = Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5, socket_connect_timeout=5)
        pids = [key.decode()[len(mine):] for key in connection.scan_iter(match=mine + "*", count=1000)]
    except Exception as exc:  # any failure is "unhealthy"; say why in `docker inspect`
        print(f"unhealthy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if any(alive(pid) for pid in pids):
        return 0
    print(f"unhealthy: no {kind} of this container with a live heartbeat", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) == 2 else ""))
