"""Process faults with real processes: gunicorn with the project's gunicorn.conf.py, a Redis port
nobody listens on, a worker killed with SIGKILL, a deploy's SIGTERM. (The async job worker's
faults: tests/test_worker_processes.py.)

Deadlines are made short through the environment (TOTAL_TIMEOUT 5 s, its least, one 2 s
attempt, no retries, no grace), so the reaper's verdict comes in seconds.
"""
import http.client
import os
import signal
import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from generation.engine import reaper
from generation.models import ApiToken, GenerationRequest
from tests.markers import needs_postgres
from tests.processes import Gunicorn, process_env
from tests.test_redis_optional import closed_port_url
from tests.upstream import FakeOpenAI

pytestmark = [needs_postgres, pytest.mark.django_db(transaction=True)]

SHORT_DEADLINE = {"SPRITE_LITELLM_MODEL": "openai/gpt-image-2", "SPRITE_LITELLM_MAX_RETRIES": "0",
                  "SPRITE_LITELLM_MAX_WAIT": "0", "SPRITE_LITELLM_TIMEOUT": "2", "SPRITE_LITELLM_TOTAL_TIMEOUT": "5",
                  "SPRITE_INTERRUPT_GRACE": "0"}
DEADLINE = 5.0


class SlowWhenAsked(FakeOpenAI):
    """Answers after `latency`, or after 30 s for a prompt with "slow" in it; stoppable at once."""

    def __init__(self, **kwargs):
        self.released = threading.Event()
        super().__init__(sleep=lambda seconds: self.released.wait(seconds), **kwargs)

    def _handle(self, raw_body):
        answer, delay = super()._handle(raw_body)
        return answer, 30.0 if b"slow" in raw_body else delay

    def stop(self):
        self.released.set()
        super().stop()


@pytest.fixture(scope="module")
def upstream_server():
    with SlowWhenAsked() as server:
        yield server


@pytest.fixture
def upstream(upstream_server):
    upstream_server.reset()
    upstream_server.latency = 0.0
    return upstream_server


@pytest.fixture
def token() -> str:
    user = get_user_model().objects.create_user(f"plugin-{time.monotonic_ns()}")
    return ApiToken.objects.create_key(user=user, name="process tests")[1]


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {timeout} s")


def in_background(fn, *args, **kwargs) -> dict:
    """Runs fn in a thread; the dict gets "result" or "error" when it ends."""
    outcome: dict = {}

    def run():
        try:
            outcome["result"] = fn(*args, **kwargs)
        except Exception as exc:  # the point of some tests: the connection dies
            outcome["error"] = exc

    outcome["thread"] = threading.Thread(target=run, daemon=True)
    outcome["thread"].start()
    return outcome


# --- One gunicorn with Redis on a closed port -------------------------------------------------

@pytest.fixture(scope="module")
def no_redis_server(django_db_setup, django_db_blocker, upstream_server):
    with django_db_blocker.unblock():
        server = Gunicorn(process_env(REDIS_URL=closed_port_url(), OPENAI_BASE_URL=upstream_server.base_url,
                                      OPENAI_API_KEY="sk-test-process", SPRITE_THROTTLE_RATE="8/min",
                                      **SHORT_DEADLINE), workers=1, threads=4)
        server.start()
    yield server
    server.stop()


def test_with_redis_on_a_closed_port_every_call_answers(no_redis_server, upstream, token):
    server = no_redis_server

    health = server.request("GET", "/healthz")
    sync = server.request("POST", "/v1/generate", body={"prompt": "slime", "size": 16}, headers=auth(token))
    queued = server.request("POST", "/v1/generate", body={"prompt": "bat", "size": 16, "async": True},
                            headers=auth(token))
    polled = server.request("GET", queued[1]["Location"], headers=auth(token))
    styles = server.request("GET", "/v1/styles")
    metrics = server.request("GET", "/v1/metrics", headers=auth(token))

    assert (health[0], health[2]) == (200, {"status": "ok", "database": "ok", "redis": "down", "workers": 0})
    assert sync[0] == 200 and sync[2]["status"] == "succeeded"
    assert queued[0] == 202 and polled[2]["status"] == "succeeded"
    assert (styles[0], metrics[0]) == (200, 403)
    log = server.log()
    assert log.count("redis_unavailable component=throttle") == 1
    assert log.count("redis_unavailable component=queue") == 1
    assert "queue_unavailable" in log


def test_with_redis_on_a_closed_port_the_throttle_still_answers_429(no_redis_server, token):
    statuses = [no_redis_server.request("GET", f"/v1/generations/{i:08d}-0000-0000-0000-000000000000",
                                        headers=auth(token)) for i in range(9)]

    assert [s for s, _, _ in statuses] == [404] * 8 + [429]
    status, headers, body = statuses[-1]
    assert body["error"]["code"] == "throttled" and int(headers["Retry-After"]) == body["error"]["retry_after"] > 0


def test_healthz_answers_head_and_refuses_post_with_json(no_redis_server):
    head = no_redis_server.request("HEAD", "/healthz")
    post = no_redis_server.request("POST", "/healthz", body={"x": 1})

    assert (head[0], head[2]) == (200, None)
    assert post[0] == 405 and post[1]["Content-Type"] == "application/json"
    assert post[2]["error"]["code"] == "method_not_allowed"


def chunked_post(server, chunks: list[bytes], token: str):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("POST", "/v1/generate", body=iter(chunks), encode_chunked=True,
                     headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked", **auth(token)})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_a_chunked_body_over_64_kb_gets_413(no_redis_server, token):
    status, body = chunked_post(no_redis_server, [b'{"prompt": "' + b"x" * 8192] * 9 + [b'"}'], token)

    assert status == 413
    assert b'"payload_too_large"' in body


def test_a_small_chunked_body_is_read(no_redis_server, token):
    conn = http.client.HTTPConnection("127.0.0.1", no_redis_server.port, timeout=30)
    conn.request("POST", "/v1/generate", body=iter([b'{"prompt": ', b'"ghost", "size": 16}']), encode_chunked=True,
                 headers={"Content-Type": "application/json", **auth(token)})
    response = conn.getresponse()

    assert response.status == 200, response.read()
    conn.close()


def test_a_worker_killed_mid_request_has_its_row_finished_by_the_master(no_redis_server, upstream, token):
    server = no_redis_server
    call = in_background(server.request, "POST", "/v1/generate", body={"prompt": "slow ghost", "size": 16},
                         headers=auth(token))
    wait_for(lambda: upstream.calls, what="upstream call")  # the request is in flight, waiting on the model
    [worker] = server.workers()
    row = GenerationRequest.objects.get(prompt="slow ghost")
    assert (row.status, row.worker.rsplit(":", 1)[1]) == ("running", str(worker))

    os.kill(worker, signal.SIGKILL)
    call["thread"].join(10)

    assert isinstance(call.get("error"), (http.client.RemoteDisconnected, ConnectionError))
    row = wait_for(lambda: GenerationRequest.objects.filter(pk=row.pk, status="failed").first(),
                   what="the row finished by gunicorn's master")
    assert (row.error_code, row.retry_after) == ("interrupted", 10)
    assert f"request_interrupted request_id={row.pk} reason=worker_died" in server.log()
    server.wait_until_serving()  # the master forked a new worker, with a database of its own
    status, _, body = server.request("GET", f"/v1/generations/{row.pk}", headers=auth(token))
    assert (status, body["status"], body["error"]["code"]) == (200, "failed", "interrupted")


def test_a_row_lost_without_a_trace_is_finished_on_read_after_its_deadline(no_redis_server, token):
    """A row whose process vanished with no hook run (another host, a power cut): only its deadline tells."""
    user = ApiToken.objects.get_from_key(token).user
    row = GenerationRequest.objects.create(user=user, prompt="orphan", style="pixel", size=16, status="running",
                                           worker="another-host:1", options={"transparent": True, "colors": 8,
                                                                             "outline": True},
                                           deadline=timezone.now() + timedelta(seconds=DEADLINE))
    assert no_redis_server.request("GET", f"/v1/generations/{row.pk}", headers=auth(token))[2]["status"] == "running"
    time.sleep(max(0.0, (row.deadline - timezone.now()).total_seconds() + 0.2))

    status, _, body = no_redis_server.request("GET", f"/v1/generations/{row.pk}", headers=auth(token))

    assert (status, body["status"], body["error"]["code"], body["error"]["retry_after"]) == (
        200, "failed", "interrupted", 10)
    row.refresh_from_db()
    assert (row.status, row.error_code) == ("failed", "interrupted")
    assert f"request_interrupted request_id={row.pk} reason=deadline_passed" in no_redis_server.log()


# --- A deploy's SIGTERM ------------------------------------------------------------------------

def test_sigterm_lets_a_short_request_finish_and_marks_the_one_past_the_graceful_timeout(upstream, token):
    upstream.latency = 1.0
    env = process_env(REDIS_URL=os.environ.get("REDIS_URL"), OPENAI_BASE_URL=upstream.base_url,
                      OPENAI_API_KEY="sk-test-process", GUNICORN_GRACEFUL_TIMEOUT="5",
                      **{**SHORT_DEADLINE, "SPRITE_LITELLM_TIMEOUT": "60", "SPRITE_LITELLM_TOTAL_TIMEOUT": "60",
                         "SPRITE_INTERRUPT_GRACE": "600"})
    server = Gunicorn(env, workers=1, threads=4).start()
    try:
        short = in_background(server.request, "POST", "/v1/generate", body={"prompt": "quick coin", "size": 16},
                              headers=auth(token))
        long = in_background(server.request, "POST", "/v1/generate", body={"prompt": "slow dragon", "size": 16},
                             headers=auth(token))
        wait_for(lambda: len(upstream.calls) == 2, what="both upstream calls")

        server.signal(signal.SIGTERM)
        server.proc.wait(timeout=30)
        short["thread"].join(10)
        long["thread"].join(10)
    finally:
        server.stop()

    assert short["result"][0] == 200
    assert "error" in long  # cut off at the graceful timeout
    rows = dict(GenerationRequest.objects.values_list("prompt", "status"))
    assert rows == {"quick coin": "succeeded", "slow dragon": "failed"}
    slow = GenerationRequest.objects.get(prompt="slow dragon")
    assert slow.error_code == "interrupted"
    assert f"request_interrupted request_id={slow.pk} reason=worker_exit" in server.log()
