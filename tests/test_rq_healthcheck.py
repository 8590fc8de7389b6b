"""The worker's and the reaper's container healthchecks against a real RQ worker and RQ cron
scheduler, on the test Redis: healthy while the process runs, not once it has stopped."""
import os
import subprocess
import sys

import pytest

from tests.processes import ROOT, Process, RQWorker, needs_postgres, process_env

pytestmark = [needs_postgres, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (.ci/run sets it)")]


def healthcheck(kind: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sprite_backend.rq_healthcheck", kind], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


class Reaper(Process):
    def __init__(self, env: dict):
        super().__init__([sys.executable, "manage.py", "rqcron", "generation.engine.cron"], env)


@pytest.mark.parametrize(("kind", "process", "ready"), [("worker", RQWorker, r"Listening on"),
                                                        ("reaper", Reaper, r"Starting cron scheduler")])
def test_it_is_healthy_while_the_process_runs_and_not_after(kind, process, ready):
    env = process_env(REDIS_URL=os.environ["REDIS_URL"])
    running = process(env)
    running.start()
    try:
        running.wait_for_log(ready)
        healthy = healthcheck(kind, env)
    finally:
        running.stop()
    after = healthcheck(kind, env)

    assert healthy.returncode == 0, healthy.stderr
    assert after.returncode == 1 and f"no {kind} of this container" in after.stderr


def test_it_is_unhealthy_when_redis_is_unreachable():
    from tests.test_redis_optional import closed_port_url

    done = healthcheck("worker", {**os.environ, "REDIS_URL": closed_port_url()})

    assert done.returncode == 1 and "unhealthy: ConnectionError" in done.stderr
