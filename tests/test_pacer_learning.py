"""What the pacer learns where no answer states the quota, on both stores (Redis and in process).

Each case feeds one fresh model a run of answers as its provider's adapter reads them (`Signal`),
at times on the store's clock (injected), and checks what a next call is told and what the admin
is shown. The rules' own tables are tests/test_quota_learning.py; these prove the pacer keeps
their state in the store it shares (two pacer clients standing for two worker processes) and
paces by what they learn.
"""
import os

import pytest

from generation.providers.signals import Signal
from generation.quota import learned
from generation.quota.pacer import Pacer, Slot, Wait, key_for
from tests.conftest import Timeline

REDIS_URL = os.environ.get("REDIS_URL", "")
KEY = key_for("azure/sprites", api_key="k", api_base="http://fake")


def answer(pacer: Pacer, line: Timeline, signal: Signal, *, status: int = 200) -> Slot | Wait:
    """Book a call now, answer it with `signal`, and pause the model as the loop does after a 429."""
    slot = pacer.acquire(KEY, deadline=line.now + 60)
    assert isinstance(slot, Slot), slot
    line.now = max(line.now, slot.at)
    pacer.observe(KEY, signal, status=status, slot=slot, sent_at=line.now)
    if status == 429 and signal.wait is not None:
        pacer.pause(KEY, until=line.now + signal.wait)
    return slot


def azure(remaining: int, *, wait: float | None = None) -> Signal:
    return Signal("azure", limit=5, remaining=remaining, wait=wait, throttled=wait is not None)


def test_azure_goes_one_call_at_a_time_until_a_429_names_its_window(pacers):
    (a, b), line = pacers
    for remaining in (4, 3, 2, 1, 0):
        slot = answer(a if remaining % 2 else b, line, azure(remaining))
        assert slot.probe  # the window is not known: each call alone, so only one finds it spent
        line.now += 0.1

    probe = b.acquire(KEY, deadline=line.now + 5)  # not the minute assumed: one call probes soon
    assert isinstance(probe, Slot) and probe.probe and probe.at - line.now <= learned.PROBE_AFTER + a.margin
    assert a.acquire(KEY, deadline=line.now + 5).reason == "probe"  # the others wait for its answer

    line.now = probe.at
    b.observe(KEY, azure(0, wait=11.0), status=429, slot=probe, sent_at=line.now)  # retry-after-ms: 11 s
    b.pause(KEY, until=line.now + 11.0)

    state = a.state(KEY)
    assert (state.learning.source, state.learning.rule) == ("azure", "refills")
    assert state.learning.window == pytest.approx(line.now + 11.0 - (probe.at - 1.5), abs=1.0)
    assert state.period == pytest.approx(state.learning.window)
    held = a.acquire(KEY, deadline=line.now + 5)  # the pause, then the learned window's log
    assert isinstance(held, Wait) and 11.0 <= held.seconds <= 12.0


def test_google_goes_one_call_at_a_time_until_its_first_429_teaches_limit_and_window(pacers):
    (a, b), line = pacers
    start = line.now
    for i in range(5):
        slot = answer(a if i % 2 else b, line, Signal("google"))
        assert slot.probe  # nothing stated: each call alone, so the first 429 costs one call
        line.now += 0.2
    busy = a.acquire(KEY, deadline=line.now + 60)
    assert isinstance(busy, Slot) and busy.probe
    assert b.acquire(KEY, deadline=line.now + 5).reason == "probe"
    a.observe(KEY, Signal("google", wait=11.0, throttled=True), status=429, slot=busy, sent_at=line.now)
    a.pause(KEY, until=line.now + 11.0)

    state = b.state(KEY)
    assert (state.learning.source, state.learning.rule, state.learning.limit) == ("google", "spacing", 5)
    assert state.learning.window == pytest.approx(line.now + 11.0 - start)
    assert (state.limit, state.period) == (5, pytest.approx(state.learning.window))
    line.now += 11.0
    after = [b.acquire(KEY, deadline=line.now + 5) for _ in range(2)]
    assert isinstance(after[0], Slot) and after[0].probe  # after a pause, one call first
    assert after[1].reason == "probe"


def test_a_silent_provider_is_paced_by_aimd_after_its_first_429(pacers):
    (a, b), line = pacers
    for i in range(5):
        answer(a if i % 2 else b, line, Signal("http"))
    assert a.state(KEY).learning.rate is None  # slow start: nothing refused, nothing paced
    slot = b.acquire(KEY, deadline=line.now + 60)
    b.observe(KEY, Signal("http", throttled=True), status=429, slot=slot, sent_at=line.now)

    state = a.state(KEY)
    assert (state.learning.rule, state.learning.rate) == ("aimd", 3.5)  # (2 + 5) / 2 calls per minute
    assert (state.limit, state.period) == (3, 60.0)


def test_a_silent_provider_that_never_passed_is_not_paced(pacers):
    (a, _), line = pacers
    answer(a, line, Signal("http", throttled=True), status=429)

    assert (a.state(KEY).limit, a.state(KEY).learning.rate) == (None, None)


def test_a_daily_quota_is_shown_as_one(pacers):
    (a, b), line = pacers
    answer(a, line, Signal("google", throttled=True, daily_quota=True), status=429)

    assert b.state(KEY).learning.daily_quota


@pytest.mark.parametrize("stored", [b"{", b"[]", b'{"rule": "refills", "refills": {"first_use": "x"}}',
                                    b'{"rule": "aimd", "aimd": {"rate": 1e999}}', b"9" * 5000])
def test_a_broken_stored_state_is_forgotten_not_fatal(stored):
    lesson = learned.step(stored, Signal("http", throttled=True), now=10.0, sent_at=9.0, answered=False)

    assert isinstance(lesson.state, str)
    assert learned.learning(stored).rate is None
