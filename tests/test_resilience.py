"""Generation that survives rate limits, against a real local OpenAI-compatible upstream.

LiteLLM calls `tests.upstream.FakeOpenAI` over HTTP for real. The generator's
sleep is replaced by a fake timeline that also drives the server's clock, so a
60 s Retry-After is honoured in no time (fixtures in conftest.py).
"""
import time

import httpx
import pytest

from generation.models import GenerationAttempt, GenerationRequest
from generation.engine.generator import generator
from tests.calls import events, generate, settings_setter
from tests.upstream import FakeOpenAI

pytestmark = pytest.mark.django_db

PRIMARY, FALLBACK, OFFLINE = "openai/gpt-image-2", "openai/gpt-image-1.5", "offline/pixel-sprite"


@pytest.fixture
def setup(configure):
    return settings_setter(configure, model=PRIMARY, max_retries=3, retry_delay=1.0, max_wait=30.0, timeout=10.0)


def names(caplog) -> list[str]:
    return [name for name, _ in events(caplog)]


def outcomes() -> list[tuple[str, str]]:
    return list(GenerationAttempt.objects.order_by("number").values_list("model", "outcome"))


def spend_window(server: FakeOpenAI) -> None:
    """Another client of the same API key uses the window's quota, unseen by our pacer."""
    httpx.post(f"{server.base_url}/images/generations", json={"model": "gpt-image-2", "prompt": "elsewhere"})


def test_it_waits_out_a_rate_limit_for_at_least_the_hint_and_succeeds(api, upstream, timeline, setup, caplog):
    setup()
    upstream.limit, upstream.window = 1, 20.0
    spend_window(upstream)
    caplog.clear()

    response = generate(api)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["attempts"], body["retries"], body["fallback_used"]) == (2, 1, False)
    assert len(upstream.calls) == 3
    assert timeline.sleeps[0] >= 20.0  # the Retry-After hint, not the 1 s backoff
    first, second = GenerationAttempt.objects.filter(request_id=body["id"]).order_by("number")
    assert (first.outcome, first.http_status, first.hint_ms) == ("rate_limited", 429, 20000)
    assert (second.outcome, second.wait_before_ms) == ("succeeded", round(sum(timeline.sleeps) * 1000))
    assert names(caplog) == ["rate_limited_retrying", "pacer_wait", "generation_succeeded"]
    _, retrying = events(caplog)[0]
    assert retrying["request_id"] == body["id"] and retrying["model"] == PRIMARY
    assert retrying["attempt"] == 1 and float(retrying["delay"]) >= 20.0


def test_a_learned_quota_is_waited_for_instead_of_spending_a_call(api, upstream, timeline, setup, caplog):
    setup()
    upstream.limit, upstream.window = 1, 20.0
    assert generate(api).status_code == 200  # uses the window's only request; its answer says so
    caplog.clear()

    response = generate(api)

    assert response.status_code == 200, response.json()
    assert (response.json()["attempts"], response.json()["retries"]) == (1, 0)
    assert [c.status for c in upstream.calls] == [200, 200]  # no call the quota would refuse
    assert 20.0 <= sum(timeline.sleeps) <= 21.0
    assert names(caplog) == ["pacer_wait", "generation_succeeded"]


def test_it_answers_429_with_retry_after_when_rate_limits_outlast_the_retries(api, upstream, timeline, setup, caplog):
    setup(max_retries=3)
    upstream.limit, upstream.window = 0, 2.0

    response = generate(api)

    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "rate_limit_exceeded"
    assert int(response["Retry-After"]) == error["retry_after"] == 2
    assert len(upstream.calls) == 4
    assert len(timeline.sleeps) == 3
    row = GenerationRequest.objects.get()
    assert (row.status, row.error_code, row.attempts, row.retries) == ("failed", "rate_limit_exceeded", 4, 3)
    assert response.json()["request_id"] == str(row.id)
    assert names(caplog) == ["rate_limited_retrying"] * 3 + ["rate_limit_exceeded", "generation_failed"]


def test_it_does_not_sleep_past_the_budget(api, upstream, timeline, setup):
    setup(max_wait=30.0)
    upstream.limit, upstream.window = 0, 60.0

    response = generate(api)

    assert response.status_code == 429
    assert timeline.sleeps == []
    assert len(upstream.calls) == 1
    assert int(response["Retry-After"]) == 60


def test_a_request_can_shorten_the_budget_but_not_lengthen_it(api, upstream, timeline, setup):
    setup(max_wait=30.0)
    upstream.limit, upstream.window = 0, 20.0

    assert generate(api, max_wait=5).status_code == 429
    assert timeline.sleeps == []
    assert generate(api, max_wait=600).status_code == 429
    assert sum(timeline.sleeps) <= 30.0


def test_it_moves_to_the_fallback_when_the_wait_would_cross_the_budget(api, upstream, timeline, setup, caplog):
    setup(max_wait=10.0, fallback_models=OFFLINE)
    upstream.limit, upstream.window = 0, 60.0

    response = generate(api)

    assert response.status_code == 200
    body = response.json()
    assert (body["model"], body["fallback_used"], body["attempts"], body["retries"]) == (OFFLINE, True, 2, 0)
    assert timeline.sleeps == []
    assert outcomes() == [(PRIMARY, "rate_limited"), (OFFLINE, "succeeded")]
    assert names(caplog) == ["fallback_used", "generation_succeeded"]
    assert events(caplog)[0][1]["reason"] == "rate_limited"


def test_insufficient_quota_is_never_retried(api, upstream, timeline, setup, caplog):
    setup(fallback_models=FALLBACK)
    upstream.insufficient_quota = {"gpt-image-2", "gpt-image-1.5"}

    response = generate(api)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "upstream_unavailable"
    assert [c.model for c in upstream.calls] == ["gpt-image-2", "gpt-image-1.5"]
    assert timeline.sleeps == []
    assert outcomes() == [(PRIMARY, "quota_exhausted"), (FALLBACK, "quota_exhausted")]
    assert names(caplog) == ["fallback_used", "generation_failed"]


def test_insufficient_quota_goes_straight_to_the_next_model(api, upstream, timeline, setup):
    setup(fallback_models=FALLBACK)
    upstream.insufficient_quota = {"gpt-image-2"}

    body = generate(api).json()

    assert (body["status"], body["model"], body["fallback_used"]) == ("succeeded", FALLBACK, True)
    assert [c.model for c in upstream.calls] == ["gpt-image-2", "gpt-image-1.5"]


def test_a_server_error_is_retried_until_it_passes(api, upstream, timeline, setup, caplog):
    setup(max_retries=3)
    upstream.fail_first = 2

    response = generate(api)

    assert response.status_code == 200
    assert (response.json()["attempts"], response.json()["retries"]) == (3, 2)
    assert len(upstream.calls) == 3
    assert outcomes() == [(PRIMARY, "server_error")] * 2 + [(PRIMARY, "succeeded")]
    assert all(0 <= delay < 1.0 * 2**i for i, delay in enumerate(timeline.sleeps))
    assert names(caplog) == ["upstream_failed_retrying"] * 2 + ["generation_succeeded"]


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_that_outlast_the_retries_answer_502(api, upstream, timeline, setup, status):
    setup(max_retries=2)
    upstream.error_rate, upstream.error_status = 1.0, status

    response = generate(api)

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_error"
    assert len(upstream.calls) == 3


def test_an_empty_answer_is_a_failure_and_retried(api, upstream, timeline, setup):
    setup(max_retries=1)
    upstream.empty_data = True

    response = generate(api)

    assert response.status_code == 502
    assert outcomes() == [(PRIMARY, "malformed")] * 2


def test_a_timeout_is_retried_then_answers_504(api, upstream, timeline, setup):
    setup(max_retries=1, timeout=1.0)
    upstream.latency = 1.5

    response = generate(api)

    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"
    assert len(upstream.calls) == 2
    assert outcomes() == [(PRIMARY, "timeout")] * 2


def test_a_connection_error_is_retried_then_answers_502(api, settings, timeline, setup):
    setup(max_retries=1)
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"  # nothing listens there

    response = generate(api)

    assert response.status_code == 502
    assert outcomes() == [(PRIMARY, "connection_error")] * 2
    assert len(timeline.sleeps) == 1


def test_a_retired_model_goes_to_the_next_model_without_retrying(api, upstream, timeline, setup, caplog):
    setup(model="openai/gpt-image-1", fallback_models=PRIMARY)
    upstream.not_found = {"gpt-image-1"}

    response = generate(api)

    assert response.status_code == 200
    assert response.json()["model"] == PRIMARY
    assert [c.model for c in upstream.calls] == ["gpt-image-1", "gpt-image-2"]
    assert outcomes()[0] == ("openai/gpt-image-1", "model_not_found")
    assert timeline.sleeps == []


def test_rejected_credentials_are_not_retried(api, upstream, timeline, setup):
    setup()
    upstream.unauthorized = {"gpt-image-2"}

    response = generate(api)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "upstream_unavailable"
    assert len(upstream.calls) == 1
    assert outcomes() == [(PRIMARY, "auth_failed")]


def test_a_content_policy_refusal_stops_at_once_without_fallback(api, upstream, timeline, setup, caplog):
    setup(fallback_models=OFFLINE)
    upstream.policy_word = "gore"

    response = generate(api, prompt="a gore monster")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "content_policy_violation"
    assert len(upstream.calls) == 1
    assert outcomes() == [(PRIMARY, "content_policy")]
    assert names(caplog) == ["generation_failed"]


def test_another_400_stops_and_is_logged_loudly(api, upstream, timeline, setup, caplog):
    setup(fallback_models=OFFLINE)
    upstream.bad_request_word = "weird"

    response = generate(api, prompt="a weird thing")

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_error"
    assert len(upstream.calls) == 1
    loud = [r for r in caplog.records if getattr(r, "event", "") == "upstream_rejected_request"]
    assert loud and loud[0].levelname == "ERROR" and loud[0].error_code == "invalid_value"


def test_disabled_means_one_attempt_on_the_primary_only(api, upstream, timeline, setup):
    setup(enabled=False, fallback_models=OFFLINE)
    upstream.limit, upstream.window = 0, 2.0

    response = generate(api)

    assert response.status_code == 429
    assert len(upstream.calls) == 1
    assert outcomes() == [(PRIMARY, "rate_limited")]
    assert GenerationRequest.objects.get().fallback_used is False


@pytest.mark.parametrize(("max_retries", "retry_delay", "worst"), [(3, 1.0, 7.0), (5, 2.0, 62.0), (7, 3.0, 381.0)])
def test_the_seed_tiers_wait_at_most_their_worst_case(api, upstream, timeline, setup, monkeypatch,
                                                      max_retries, retry_delay, worst):
    setup(max_retries=max_retries, retry_delay=retry_delay, max_wait=600.0, total_timeout=900.0)
    monkeypatch.setattr(generator, "rand", lambda: 0.999999)  # jitter at its longest
    upstream.limit, upstream.retry_after, upstream.ratelimit_headers = 0, False, False  # no hint: pure backoff

    response = generate(api)

    assert response.status_code == 429
    assert len(upstream.calls) == max_retries + 1
    assert sum(timeline.sleeps) == pytest.approx(worst, rel=1e-4)
    assert sum(timeline.sleeps) < worst


def test_the_offline_model_never_sends_a_request_upstream(api, upstream, timeline, setup):
    setup(model=OFFLINE)

    assert generate(api).status_code == 200
    assert upstream.calls == []


def test_every_valid_request_leaves_exactly_one_row_whatever_the_outcome(api, upstream, timeline, setup):
    setup(max_retries=0)
    upstream.policy_word = "gore"
    statuses = [generate(api).status_code]
    upstream.limit = 0
    statuses.append(generate(api).status_code)
    timeline.now += 61  # the 429 paused the model for its 60 s hint
    upstream.limit, upstream.error_rate = None, 1.0
    statuses.append(generate(api).status_code)
    setup(max_retries=0, model=OFFLINE)
    statuses.append(generate(api, prompt="gore").status_code)

    assert statuses == [200, 429, 502, 200]
    assert GenerationRequest.objects.count() == 4
    assert GenerationRequest.objects.filter(finished_at__isnull=True).count() == 0


def test_it_really_waits_out_a_short_retry_after(api, settings, setup):
    """End to end with the real clock and sleep: no fake timeline."""
    setup(max_retries=2)
    with FakeOpenAI(limit=1, window=0.6) as fake:
        settings.OPENAI_BASE_URL = fake.base_url
        spend_window(fake)
        started = time.monotonic()
        response = generate(api)
        elapsed = time.monotonic() - started

    assert response.status_code == 200
    limited, passed = GenerationAttempt.objects.filter(request_id=response.json()["id"]).order_by("number")
    assert limited.outcome == "rate_limited" and limited.hint_ms > 0
    assert passed.wait_before_ms >= limited.hint_ms
    assert elapsed >= limited.hint_ms / 1000


def test_it_really_waits_for_a_paced_slot(api, settings, setup):
    """End to end with the real clock, sleep and pacer timer: a learned quota is waited for."""
    setup(max_retries=2)
    with FakeOpenAI(limit=1, window=0.6) as fake:
        settings.OPENAI_BASE_URL = fake.base_url
        assert generate(api).status_code == 200
        started = time.monotonic()
        response = generate(api)
        elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert [c.status for c in fake.calls] == [200, 200]
    (attempt,) = GenerationAttempt.objects.filter(request_id=response.json()["id"])
    assert attempt.wait_before_ms >= 300 and elapsed >= 0.3


def test_without_a_hint_retry_after_is_the_next_backoff(api, upstream, timeline, setup):
    setup(max_retries=2, retry_delay=1.0)
    upstream.limit, upstream.retry_after, upstream.ratelimit_headers = 0, False, False

    response = generate(api)

    assert response.status_code == 429
    assert response["Retry-After"] == "4"  # retries waited under 1 s and 2 s; the next would be under 4 s
