"""The worker's and the reaper's container healthchecks against a real worker command and a real
reaper loop, on the test Redis: healthy while the process runs, not once it has stopped."""
import os
import subprocess
import sys

import pytest

from tests.markers import needs_postgres, needs_redis
from tests.processes import ROOT, JobWorker, Process, process_env

pytestmark = [needs_postgres, needs_redis, pytest.mark.django_db(transaction=True)]


def healthcheck(kind: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sprite_backend.process_healthcheck", kind], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


class Reaper(Process):
    def __init__(self, env: dict):
        super().__init__([sys.executable, "manage.py", "reap_generations", "--every", "1"], env)

    def start(self):
        super().start()
        return self


def reaper_beat(env: dict, reaper: Reaper) -> None:
    """Wait until the reaper's first turn has beaten (its healthcheck answers 0)."""
    import time

    for _ in range(300):  # up to 30 s for the interpreter to start and reach its loop
        if healthcheck("reaper", env).returncode == 0 or reaper.proc.poll() is not None:
            return
        time.sleep(0.1)


@pytest.mark.parametrize("kind", ["worker", "reaper"])
def test_it_is_healthy_while_the_process_runs_and_not_after(kind):
    env = process_env(REDIS_URL=os.environ["REDIS_URL"], SPRITE_WORKER_CONCURRENCY="2")
    running = (JobWorker if kind == "worker" else Reaper)(env).start()
    try:
        if kind == "reaper":
            reaper_beat(env, running)
        healthy = healthcheck(kind, env)
    finally:
        running.stop()
    after = healthcheck(kind, env)

    assert healthy.returncode == 0, healthy.stderr
    assert after.returncode == 1 and f"no {kind} of this container" in after.stderr


def test_it_refuses_an_unknown_kind():
    assert healthcheck("scheduler", process_env(REDIS_URL=os.environ["REDIS_URL"])).returncode == 2
