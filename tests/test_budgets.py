"""Answers within budget: the shared pacer and the total timeout, through the API, against a real
local upstream on the fake timeline (conftest), so no test sleeps out a quota."""
import time

import pytest

from generation.quota import pacing
from generation.engine.generator import generator
from generation.models import GenerationAttempt, GenerationRequest, ModelRateLimit
from tests.calls import events, generate, settings_setter
from tests.upstream import FakeOpenAI

pytestmark = pytest.mark.django_db

PRIMARY, FALLBACK = "openai/gpt-image-2", "openai/gpt-image-1.5"


@pytest.fixture
def setup(configure):
    return settings_setter(configure, model=PRIMARY, max_retries=3, retry_delay=1.0, max_wait=30.0, timeout=120.0)


def test_a_slot_beyond_the_budget_is_refused_at_once_with_the_real_next_slot(api, upstream, timeline, setup, caplog):
    setup()
    upstream.limit, upstream.window = 1, 60.0
    assert generate(api).status_code == 200  # spends the window; its answer teaches the pacer the quota
    caplog.clear()

    response = generate(api)

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert response["Retry-After"] == "61" == str(response.json()["error"]["retry_after"])  # 60 s + the margin
    assert timeline.sleeps == []  # answered at once, not after the budget
    assert len(upstream.calls) == 1  # no call the quota would refuse
    assert [name for name, _ in events(caplog)] == ["admission_rejected", "generation_failed"]
    assert events(caplog)[0][1]["retry_after"] == 61
    row = GenerationRequest.objects.get(pk=response.json()["request_id"])
    assert (row.attempts, row.retries, row.retry_after) == (0, 0, 61)
    timeline.now += 61
    assert generate(api).status_code == 200  # the slot it named is real


def test_the_next_model_serves_when_the_primarys_slot_is_beyond_the_budget(api, upstream, timeline, setup, caplog):
    setup(fallback_models=FALLBACK)
    ModelRateLimit.objects.create(model=PRIMARY, requests_per_minute=1)
    assert generate(api).json()["model"] == PRIMARY
    caplog.clear()

    response = generate(api)

    assert response.status_code == 200
    assert (response.json()["model"], response.json()["fallback_used"], response.json()["attempts"]) == (FALLBACK, True, 1)
    assert [c.model for c in upstream.calls] == ["gpt-image-2", "gpt-image-1.5"]
    assert timeline.sleeps == []
    assert [name for name, _ in events(caplog)] == ["fallback_used", "generation_succeeded"]


def test_an_admin_limit_is_kept_without_any_header(api, upstream, timeline, setup):
    setup(max_wait=120.0)
    ModelRateLimit.objects.create(model=PRIMARY, requests_per_minute=2)

    statuses = [generate(api).status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
    assert [round(c.at - 1000) for c in upstream.calls] == [0, 0, 60]
    assert all(c.status == 200 for c in upstream.calls)


def test_a_5xx_with_quota_headers_retries_on_the_backoff(api, upstream, timeline, setup):
    setup()
    upstream.limit, upstream.window, upstream.fail_first = 100, 60.0, 1  # the 500 says reset 1m0s

    response = generate(api)

    assert response.status_code == 200
    assert response.json()["retries"] == 1
    assert len(timeline.sleeps) == 1 and timeline.sleeps[0] < 1.0
    failed = GenerationAttempt.objects.order_by("number").first()
    assert (failed.http_status, failed.hint_ms) == (500, None)


def test_a_hanging_upstream_is_cut_at_the_total_timeout(api, upstream, timeline, setup, pacer, monkeypatch):
    setup(timeout=120.0)
    ModelRateLimit.objects.create(model=PRIMARY, requests_per_minute=1)
    # Another worker's call 56.75 s ago: this request's slot comes 3.5 s after it arrives.
    pacer.store_time = lambda: timeline.now - 56.75
    pacer.acquire(pacing.pacer_key(PRIMARY), deadline=timeline.now, rpm=1)
    pacer.store_time = timeline.clock
    upstream.latency, upstream.sleep = 10.0, time.sleep  # hangs for real: LiteLLM's timeout must cut it
    real_call, timeouts = generator.call_model, []

    def spy(request, *, timeout):
        timeouts.append(timeout)
        started = time.monotonic()
        try:
            return real_call(request, timeout=timeout)
        finally:
            timeline.now += time.monotonic() - started  # the fake clock follows the real wait

    monkeypatch.setattr(generator, "call_model", spy)
    started = time.monotonic()

    response = generate(api, timeout=5)  # the request's own total

    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"
    assert timeline.sleeps == [pytest.approx(3.5)]  # the pacer's slot, counted against the total
    # The call's 120 s cut to what remained of the 5 s counted from arrival (less the real moments
    # between taking the request and starting its loop).
    assert timeouts == [pytest.approx(1.5, abs=0.1)] and timeouts[0] <= 1.5
    assert time.monotonic() - started < 5.0
    (attempt,) = GenerationAttempt.objects.all()
    assert attempt.outcome == "timeout" and 1400 <= attempt.duration_ms < 5000


def test_a_huge_or_broken_hint_never_fails_a_request(api, upstream, timeline, setup, monkeypatch):
    setup(max_retries=1)
    upstream.limit, upstream.retry_after = 0, False  # only our broken headers say when
    headers = {"retry-after": "1" + "0" * 30, "retry-after-ms": "nan", "x-ratelimit-reset-requests": "inf"}
    original = upstream._ratelimit_headers
    monkeypatch.setattr(upstream, "_ratelimit_headers", lambda now, remaining: {**original(now, remaining), **headers})

    response = generate(api)

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 86400
    assert all(a.hint_ms is None or a.hint_ms <= 86_400_000 for a in GenerationAttempt.objects.all())


def test_with_no_wait_budget_a_free_slot_is_still_taken_on_the_real_clock(api, settings, setup):
    setup(max_wait=0.0)
    ModelRateLimit.objects.create(model=PRIMARY, requests_per_minute=5)
    with FakeOpenAI() as fake:
        settings.OPENAI_BASE_URL = fake.base_url

        statuses = [generate(api).status_code for _ in range(2)]

    assert statuses == [200, 200]
    assert len(fake.calls) == 2


def test_with_no_wait_budget_a_call_does_not_wait_for_another_workers_probe(api, upstream, timeline, setup, pacer):
    setup(max_wait=0.0)
    probe = pacer.acquire(pacing.pacer_key(PRIMARY), deadline=timeline.now + 30, lease=60)  # another worker's

    response = generate(api)

    assert probe.probe and response.status_code == 200
    assert len(upstream.calls) == 1 and timeline.sleeps == []


def test_a_generator_waits_on_the_clock_sleep_and_pacer_it_is_given(user, upstream, setup, settings):
    """Its collaborators are the generator's own: nothing here patches a module."""
    from django.utils import timezone

    from generation.engine.generator import Generator
    from generation.quota.pacer import Pacer
    from tests.conftest import Timeline

    setup(max_retries=1)
    line, own_pacer = Timeline(), Pacer("")  # in process: no other test's pacer
    own_pacer.store_time = line.clock  # a queued request asks again at its slot, on the store's clock
    upstream.clock, upstream.limit, upstream.window = line.clock, 1, 20.0
    own = Generator(clock=line.clock, sleep=line.sleep, rand=lambda: 0.0, pacer=own_pacer)
    rows = [GenerationRequest.objects.create(user=user, prompt="slime", style="pixel", size=16, status="queued",
                                             options={"transparent": True, "colors": 8, "outline": True},
                                             deadline=timezone.now() + timezone.timedelta(seconds=60))
            for _ in range(2)]

    first, second = (own.run(row) for row in rows)

    assert (first.status, second.status) == ("succeeded", "succeeded")
    # The first answer taught the given pacer the quota (1 per 20 s): the second waited for its slot
    # on the given clock and sleep, and never met a 429.
    assert line.sleeps == [pytest.approx(20.0, abs=0.5)]
    assert [c.status for c in upstream.calls] == [200, 200]
    assert own_pacer.state(pacing.pacer_key(PRIMARY)).limit is not None


def test_a_provider_claiming_a_day_holds_the_model_an_hour_and_an_admin_limit_its_minute(api, upstream, timeline, setup):
    setup()
    upstream.limit, upstream.window = 1, 86400.0  # remaining 0, reset 23h59m...: come back tomorrow
    assert generate(api).status_code == 200

    held = generate(api)
    sent_while_held = len(upstream.calls)
    ModelRateLimit.objects.create(model=PRIMARY, requests_per_minute=10)  # the operator knows better
    upstream.reset()  # ... and is right: the provider's quota is back
    timeline.now += 61

    assert (held.status_code, held["Retry-After"]) == (429, "3601")  # an hour (and the margin), not a day
    assert sent_while_held == 1  # nothing sent into the claimed window
    assert generate(api).status_code == 200
