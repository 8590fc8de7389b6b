"""The worker's and the reaper's container healthchecks: `python -m sprite_backend.rq_healthcheck worker|reaper`.

Exits 0 when a process of this container (its host name, and a pid alive here) is registered in
Redis as an RQ worker (`manage.py worker`) or an RQ cron scheduler (the reaper, `manage.py rqcron`)
and its last heartbeat is recent: the process runs, reaches Redis, and its loop turns. RQ writes
both registrations itself; an idle worker beats once per its TTL (420 s), the cron scheduler at
each of its turns. Reads REDIS_URL only, so it starts in a fraction of the app's time.
"""
import os
import socket
import sys
from datetime import datetime, timedelta, timezone

from redis import Redis
from rq import Worker
from rq.cron import CronScheduler
from rq.defaults import DEFAULT_CRON_SCHEDULER_TTL, DEFAULT_WORKER_TTL

# A heartbeat older than this says the loop is stuck, whatever the process table says.
SILENCE = {"worker": timedelta(seconds=DEFAULT_WORKER_TTL + 60),
           "reaper": timedelta(seconds=DEFAULT_CRON_SCHEDULER_TTL)}


def alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, TypeError, ValueError):
        return False
    return True


def registered(kind: str, connection: Redis) -> list:
    everyone = Worker.all(connection=connection) if kind == "worker" else CronScheduler.all(connection)
    return [entry for entry in everyone if entry.hostname == socket.gethostname() and alive(entry.pid)]


def main(kind: str) -> int:
    if kind not in SILENCE:
        print(f"usage: python -m sprite_backend.rq_healthcheck {'|'.join(SILENCE)}", file=sys.stderr)
        return 2
    try:
        connection = Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5, socket_connect_timeout=5)
        mine = registered(kind, connection)
    except Exception as exc:  # any failure is "unhealthy"; say why in `docker inspect`
        print(f"unhealthy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    now = datetime.now(timezone.utc)
    if any(entry.last_heartbeat and now - entry.last_heartbeat < SILENCE[kind] for entry in mine):
        return 0
    print(f"unhealthy: no {kind} of this container with a heartbeat in the last {SILENCE[kind]}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]) if len(sys.argv) == 2 else main(""))
