"""GET /metrics in Prometheus' text format, summed over worker processes; LOG_FORMAT=json lines that parse."""
import json
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.processes import ROOT, gunicorn, manage, project_env

pytestmark = pytest.mark.django_db


def samples(text: str) -> dict:
    """{(sample name, frozenset of labels): value}"""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def requests_ok(values: dict) -> float:
    return values.get(("sprite_requests_total", frozenset({("status", "200"), ("code", "ok")})), 0)


def test_it_counts_requests_and_upstream_calls_in_process(api):
    before = samples(Client().get("/metrics").content.decode())

    assert api.post("/v1/generate", {"prompt": "coin", "size": 16}, format="json").status_code == 200

    response = Client().get("/metrics")
    after = samples(response.content.decode())
    assert response["Content-Type"].startswith("text/plain")
    assert requests_ok(after) == requests_ok(before) + 1
    calls = ("sprite_upstream_calls_total", frozenset({("model", "offline/pixel-sprite"), ("outcome", "succeeded")}))
    assert after[calls] == before.get(calls, 0) + 1
    assert after[("sprite_request_latency_seconds_count", frozenset())] == \
        before.get(("sprite_request_latency_seconds_count", frozenset()), 0) + 1


RECORD = """
import sys
from generation import metrics
for _ in range(int(sys.argv[1])):
    metrics.record_request(429, "rate_limit_exceeded", 0.2, 1.5)
    metrics.record_attempt("openai/gpt-image-2", "rate_limited")
"""


def test_it_sums_the_values_two_processes_wrote(tmp_path, monkeypatch):
    env = project_env(PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    writers = [subprocess.Popen([sys.executable, "-c", RECORD, str(n)], cwd=ROOT, env=env) for n in (3, 4)]
    assert [w.wait(timeout=60) for w in writers] == [0, 0]
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    values = samples(Client().get("/metrics").content.decode())

    assert values[("sprite_requests_total", frozenset({("status", "429"), ("code", "rate_limit_exceeded")}))] == 7
    assert values[("sprite_upstream_calls_total",
                   frozenset({("model", "openai/gpt-image-2"), ("outcome", "rate_limited")}))] == 7
    assert values[("sprite_request_wait_seconds_bucket", frozenset({("le", "2.0")}))] == 7
    assert values[("sprite_request_wait_seconds_bucket", frozenset({("le", "1.0")}))] == 0


def test_gunicorn_with_two_workers_sums_metrics_and_writes_json_lines(tmp_path):
    env = project_env(DEBUG="true", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", LOG_FORMAT="json",
                      SPRITE_LITELLM_MODEL="offline/pixel-sprite", GUNICORN_WORKERS="2", GUNICORN_THREADS="4",
                      REDIS_URL="")
    manage("migrate", "--no-input", env=env)
    token = manage("create_api_token", "metrics-test", env=env).strip().splitlines()[-1]
    out, err = tmp_path / "stdout", tmp_path / "stderr"

    def generate(n: int) -> int:
        request = urllib.request.Request(
            f"{url}/v1/generate", data=json.dumps({"prompt": "coin", "size": 16, "seed": n}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                     "X-Request-ID": f"fuzzy-{n}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status

    with out.open("w") as stdout, err.open("w") as stderr, gunicorn(env, stdout=stdout, stderr=stderr) as url:
        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(generate, range(12))) == [200] * 12
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
            values = samples(response.read().decode())

    assert requests_ok(values) == 12
    lines = [json.loads(line) for line in (err.read_text() + out.read_text()).splitlines() if line.strip()]
    done = [line for line in lines if line["event"] == "generation_succeeded"]
    assert sorted(line["http_request_id"] for line in done) == sorted(f"fuzzy-{n}" for n in range(12))
    assert all(line["request_id"] and line["model"] == "offline/pixel-sprite" for line in done)
    assert any(line["logger"] == "gunicorn.error" and "Booting worker" in line["event"] for line in lines)
    assert sum(1 for line in lines if line["logger"] == "gunicorn.access") >= 13
