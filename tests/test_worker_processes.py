"""The async job worker as deployed: real `manage.py worker` processes on Redis, against a local
upstream that holds every call until the test lets it answer, so that concurrency is counted, not
timed: how many calls one worker command has in flight at once, what a SIGKILL leaves behind,
and two commands sharing one queue."""
import os
import signal
import sys
import threading
import time
import urllib.request

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from generation.engine import heartbeats, jobs, services
from generation.engine.spec import SpriteSpec
from generation.models import ApiToken, GenerationRequest, ModelRateLimit
from tests.processes import JobWorker, Process, needs_postgres, process_env
from tests.test_prometheus_and_json_logs import samples
from tests.upstream import FakeOpenAI

pytestmark = [needs_postgres, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (.ci/run sets it)")]
MODEL = "openai/gpt-image-2"
FINAL = ("succeeded", "failed")


class HeldUpstream(FakeOpenAI):
    """Every call waits, in flight, until `release()` (or 120 s)."""

    def __init__(self):
        self.released = threading.Event()
        super().__init__(latency=120.0, sleep=lambda seconds: self.released.wait(seconds))

    def release(self):
        self.released.set()

    def stop(self):
        self.released.set()
        super().stop()


@pytest.fixture
def upstream():
    with HeldUpstream() as server:
        yield server


@pytest.fixture
def queue(settings, configure):
    """An empty queue in the test's Redis, no heartbeats, and a model with a known limit (no probe call)."""
    settings.REDIS_URL = os.environ["REDIS_URL"]
    jobs.flush()
    client = heartbeats.link.client()
    client.delete(*client.keys(heartbeats.KEY_PREFIX + "*") or ["-"])
    configure(model=MODEL, max_retries=0, timeout=300, total_timeout=600)
    ModelRateLimit.objects.create(model=MODEL, requests_per_minute=100_000)
    yield
    jobs.flush()


@pytest.fixture
def token():
    user = get_user_model().objects.create_user(f"plugin-{time.monotonic_ns()}")
    return ApiToken.objects.create_key(user=user, name="worker tests")[0]


def worker_env(upstream, **overrides) -> dict:
    return process_env(REDIS_URL=os.environ["REDIS_URL"], OPENAI_BASE_URL=upstream.base_url,
                       OPENAI_API_KEY="sk-test-worker", SPRITE_WORKER_METRICS_PORT="0", **overrides)


def submit(token, n: int, prompt: str = "coin") -> list[str]:
    spec = dict(style="pixel", size=16, transparent=True, colors=8, outline=False)
    return [str(services.submit(token=token, spec=SpriteSpec(prompt=f"{prompt} {i}", **spec), run_async=True).id)
            for i in range(n)]


def wait_for(predicate, what: str, timeout: float = 90.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError(f"no {what} within {timeout} s")


def statuses(ids) -> dict[str, str]:
    return {str(pk): s for pk, s in GenerationRequest.objects.filter(pk__in=ids).values_list("pk", "status")}


def scrape(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return samples(response.read().decode())


OK = ("sprite_requests_total", frozenset({("status", "200"), ("code", "ok")}))


def test_one_worker_command_runs_its_concurrency_of_generations_at_once(upstream, queue, token):
    worker = JobWorker(worker_env(upstream, SPRITE_WORKER_CONCURRENCY="8", SPRITE_WORKER_DB_POOL_SIZE="2")).start()
    try:
        for _ in range(3):  # each scrape reads the pacer's settings, and gives its connection back
            scrape(worker.metrics_port)
        ids = submit(token, 10)
        wait_for(lambda: upstream.in_flight == 8, "8 upstream calls in flight")
        assert list(statuses(ids).values()).count("running") == 8  # and 2 wait in the queue
        assert Client().get("/healthz").json()["workers"] == 1
        web = samples(Client().get("/metrics").content.decode())
        assert (web[("sprite_async_workers", frozenset())], web[("sprite_async_queue_messages", frozenset())]) == (1, 10)

        upstream.release()
        wait_for(lambda: set(statuses(ids).values()) == {"succeeded"}, "every row succeeded")
        metrics = scrape(worker.metrics_port)
        wait_for(lambda: samples(Client().get("/metrics").content.decode())[
            ("sprite_async_queue_messages", frozenset())] == 0, "every message acknowledged")
    finally:
        worker.stop()

    assert upstream.max_in_flight == 8
    assert len(upstream.calls) == 10
    assert metrics[OK] == 10  # the worker's own exporter counts its generations
    assert metrics[("sprite_upstream_calls_total", frozenset({("model", MODEL), ("outcome", "succeeded")}))] == 10
    assert metrics[("sprite_pacer_limit_requests_per_minute", frozenset({("model", MODEL)}))] == 100_000
    assert "worker_stopped" in worker.log()
    assert Client().get("/healthz").json()["workers"] == 0  # a worker that stops takes its heartbeat with it


def test_a_worker_killed_with_jobs_in_flight_leaves_every_row_final_and_runs_none_twice(upstream, queue, token):
    killed = JobWorker(worker_env(upstream, SPRITE_WORKER_CONCURRENCY="4")).start()
    ids = submit(token, 6)
    wait_for(lambda: upstream.in_flight == 4, "4 upstream calls in flight")
    running = [pk for pk, s in statuses(ids).items() if s == "running"]

    killed.signal(signal.SIGKILL)
    killed.proc.wait()
    upstream.release()  # the killed calls' answers go nowhere
    successor = JobWorker(worker_env(upstream, SPRITE_WORKER_CONCURRENCY="4")).start()
    try:
        # The successor gets the dead worker's messages back from Redis: it finishes the rows that
        # were running as interrupted and runs the two that never started; the reaper may come first.
        while not set(statuses(ids).values()) <= set(FINAL):
            call_command("reap_generations")
            time.sleep(1)
    finally:
        successor.stop()
        killed.stop()

    rows = {str(r.pk): r for r in GenerationRequest.objects.filter(pk__in=ids)}
    assert {pk: (rows[pk].status, rows[pk].error_code) for pk in running} == dict.fromkeys(
        running, ("failed", "interrupted"))
    assert {rows[pk].status for pk in set(ids) - set(running)} == {"succeeded"}
    prompts = [call.prompt for call in upstream.calls]
    assert len(prompts) == len(set(prompts)) == 6  # every request called once: none ran twice


def test_two_worker_commands_share_one_queue(upstream, queue, token):
    workers = [JobWorker(worker_env(upstream, SPRITE_WORKER_CONCURRENCY="3")).start() for _ in range(2)]
    try:
        ids = submit(token, 6)
        wait_for(lambda: upstream.in_flight == 6, "6 upstream calls in flight")
        assert Client().get("/healthz").json()["workers"] == 2
        names = set(GenerationRequest.objects.filter(pk__in=ids).values_list("worker", flat=True))

        upstream.release()
        wait_for(lambda: set(statuses(ids).values()) == {"succeeded"}, "every row succeeded")
        counted = [scrape(w.metrics_port).get(OK, 0) for w in workers]
    finally:
        for worker in workers:
            worker.stop()

    assert len(names) == 2 and all(name.startswith("async:") for name in names)
    assert counted == [3, 3]  # summed over both exporters: every async generation, once
    assert len(upstream.calls) == 6


def test_the_reaper_command_finishes_lost_rows_every_interval_until_stopped(queue, token):
    def lost_row(prompt: str) -> GenerationRequest:
        # Running under an async worker that sends no heartbeat: killed.
        return GenerationRequest.objects.create(user=token.user, token=token, prompt=prompt, style="pixel", size=16,
                                                status="running", worker="async:gone:1",
                                                options={"transparent": True, "colors": 8, "outline": False})

    first = lost_row("first")
    reaper_process = Process([sys.executable, "manage.py", "reap_generations", "--every", "1"],
                             process_env(REDIS_URL=os.environ["REDIS_URL"])).start()
    try:
        wait_for(lambda: GenerationRequest.objects.get(pk=first.pk).status == "failed", "the first row reaped")
        second = lost_row("second")  # after the first run: only a later run can find it
        wait_for(lambda: GenerationRequest.objects.get(pk=second.pk).status == "failed", "the second row reaped")
        reaper_process.signal(signal.SIGTERM)
        assert reaper_process.proc.wait(timeout=30) == 0
    finally:
        reaper_process.stop()

    assert GenerationRequest.objects.get(pk=second.pk).error_code == "interrupted"
    assert "request_interrupted" in reaper_process.log() and "reason=worker_died" in reaper_process.log()


def test_a_stopped_worker_finishes_what_it_still_runs_as_interrupted_and_leaves_the_rest_queued(upstream, queue,
                                                                                                  token):
    worker = JobWorker(worker_env(upstream, SPRITE_WORKER_CONCURRENCY="2")).start()
    ids = submit(token, 3)
    wait_for(lambda: upstream.in_flight == 2, "2 upstream calls in flight")
    running = [pk for pk, s in statuses(ids).items() if s == "running"]

    worker.signal(signal.SIGTERM)  # a deploy: running generations may finish ...
    worker.wait_for_log("worker_stopping")
    worker.signal(signal.SIGTERM)  # ... but the operator will not wait
    assert worker.proc.wait(timeout=60) == 0
    worker.stop()

    rows = {str(r.pk): r for r in GenerationRequest.objects.filter(pk__in=ids)}
    assert {pk: (rows[pk].status, rows[pk].error_code) for pk in running} == dict.fromkeys(
        running, ("failed", "interrupted"))
    [waiting] = set(ids) - set(running)
    assert rows[waiting].status == "queued"  # never taken: still on the queue for the next worker
    assert worker.log().count("reason=worker_exit") == 2
    assert Client().get("/healthz").json()["workers"] == 0
