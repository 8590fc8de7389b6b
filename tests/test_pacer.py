"""The shared pacer against a real local upstream, on a fake clock: no test sleeps.

Every behaviour runs on both stores: real Redis (REDIS_URL, two pacer clients
standing for two worker processes) and in-process state (one pacer shared by
a process's threads). Clients are simulated in time order on one timeline
that also drives FakeOpenAI's rate-limit window.
"""
import heapq
import itertools
import logging
import os
import socket
import uuid

import httpx
import pytest
import redis

from tests.calls import heard
from generation.quota.pacer import ADMIN, LEARNED, Pacer, Slot, Wait, key_for
from generation.quota.store import ScriptStore
from tests.conftest import Timeline
from tests.upstream import FakeOpenAI

KEY = key_for("openai/gpt-image-2", api_key="sk-test", api_base="http://fake")
REDIS_URL = os.environ.get("REDIS_URL", "")


@pytest.fixture
def upstream_on(pacers):
    _, line = pacers
    with FakeOpenAI(limit=5, window=12.0, clock=line.clock) as server:
        yield server


def call(server: FakeOpenAI) -> httpx.Response:
    return httpx.post(f"{server.base_url}/images/generations", json={"model": "gpt-image-2", "prompt": "slime"})


def simulate(clients: list[Pacer], line: Timeline, server: FakeOpenAI, *, count: int, budget: float = 30.0,
             poll: float = 0.1) -> dict[int, tuple]:
    """`count` clients arrive at once; each books a slot, waits for it, calls, learns from the answer.

    Returns client -> ("served", time) or ("rejected", time, seconds to the slot it could not wait for).
    """
    arrival, seq, results = line.now, itertools.count(), {}
    events = [(arrival, next(seq), i, None) for i in range(count)]
    while events:
        at, _, i, slot = heapq.heappop(events)
        line.now = max(line.now, at)
        pacer = clients[i % len(clients)]
        if slot is None:
            got = pacer.acquire(KEY, deadline=arrival + budget)
            if isinstance(got, Slot):
                heapq.heappush(events, (got.at, next(seq), i, got))
            elif got.reason == "probe" and line.now + poll <= arrival + budget:
                heapq.heappush(events, (line.now + poll, next(seq), i, None))
            else:
                results[i] = ("rejected", line.now, got.seconds)
            continue
        sent = line.now
        answer = call(server)
        pacer.observe(KEY, heard(answer.headers, answer.status_code), status=answer.status_code, slot=slot, sent_at=sent)
        if answer.status_code == 429:
            wait = heard(answer.headers, 429).wait
            pacer.pause(KEY, until=line.now + wait)
            heapq.heappush(events, (line.now, next(seq), i, None))
        else:
            results[i] = ("served", line.now)
    return results


def refused(server: FakeOpenAI) -> int:
    return sum(1 for c in server.calls if c.status == 429)


def test_it_never_holds_the_secret_in_its_key():
    key = key_for("openai/gpt-image-2", api_key="sk-live-secret-1234", api_base="https://api.openai.com/v1")

    assert "sk-live" not in key and "secret" not in key and "openai.com" not in key
    assert key.startswith("openai/gpt-image-2#")
    assert key != key_for("openai/gpt-image-2", api_key="sk-live-secret-1235", api_base="https://api.openai.com/v1")
    assert key != key_for("openai/gpt-image-2", api_key="sk-live-secret-1234", api_base="http://proxy:4000/v1")


def test_fifteen_clients_are_all_served_within_the_budget_without_a_wasted_call(pacers, upstream_on):
    clients, line = pacers
    start = line.now

    results = simulate(clients, line, upstream_on, count=15)

    served = [r for r in results.values() if r[0] == "served"]
    assert len(served) == 15
    assert max(at for _, at in served) - start <= 30.0
    assert refused(upstream_on) == 0
    assert len(upstream_on.calls) == 15


def test_sixty_clients_get_fifteen_served_and_the_rest_the_real_next_slot_at_once(pacers, upstream_on):
    clients, line = pacers
    start = line.now

    results = simulate(clients, line, upstream_on, count=60)

    served = [r for r in results.values() if r[0] == "served"]
    rejected = [r for r in results.values() if r[0] == "rejected"]
    assert (len(served), len(rejected)) == (15, 45)
    assert refused(upstream_on) <= 3  # at most one wasted call per 12 s window of the budget
    assert max(at - start for _, at, _ in rejected) <= 0.5  # told at once, not after the budget
    # The server's third window opened with the first call in it; the next slot is when it ends.
    third_window_opened = sorted(c.at for c in upstream_on.calls if c.status == 200)[10]
    next_slot = third_window_opened + upstream_on.window
    for _, at, seconds in rejected:
        assert next_slot <= at + seconds <= next_slot + 0.1 * (next_slot - at)
    line.now = max(at + seconds for _, at, seconds in rejected)
    assert call(upstream_on).status_code == 200  # the slot it named is real


def test_a_cold_start_sends_one_call_first_and_the_rest_wait_for_its_answer(pacers, upstream_on):
    clients, line = pacers

    first = [clients[i % 2].acquire(KEY, deadline=line.now + 30) for i in range(6)]

    probes = [got for got in first if isinstance(got, Slot)]
    assert len(probes) == 1 and probes[0].probe and probes[0].at == line.now
    assert all(isinstance(got, Wait) and got.reason == "probe" for got in first if got is not probes[0])
    answer = call(upstream_on)
    clients[0].observe(KEY, heard(answer.headers, answer.status_code), status=answer.status_code, slot=probes[0], sent_at=line.now)
    after = [clients[i % 2].acquire(KEY, deadline=line.now + 30) for i in range(5)]
    assert [got.at for got in after] == [line.now] * 4 + [line.now + 12.0 + clients[0].margin]


def test_a_crashed_probe_blocks_the_model_only_until_its_lease_ends(pacers):
    clients, line = pacers
    probe = clients[0].acquire(KEY, deadline=line.now + 30, lease=10.0)

    blocked = clients[1].acquire(KEY, deadline=line.now + 30)
    line.now += 10.5
    second = clients[1].acquire(KEY, deadline=line.now + 30)

    assert probe.probe and blocked == Wait(seconds=10.0, reason="probe")
    assert isinstance(second, Slot) and second.probe


def test_a_probe_that_got_no_answer_hands_the_turn_to_the_next_call(pacers):
    clients, line = pacers
    probe = clients[0].acquire(KEY, deadline=line.now + 30)

    clients[0].observe(KEY, heard(None, None), status=None, slot=probe, sent_at=line.now)  # timed out
    second = clients[1].acquire(KEY, deadline=line.now + 30)

    assert isinstance(second, Slot) and second.probe


def test_an_upstream_without_quota_headers_is_not_paced_after_the_probe(pacers):
    clients, line = pacers
    probe = clients[0].acquire(KEY, deadline=line.now + 30)
    clients[0].observe(KEY, heard(httpx.Headers(), 200), status=200, slot=probe, sent_at=line.now)

    slots = [clients[i % 2].acquire(KEY, deadline=line.now) for i in range(50)]

    assert all(isinstance(s, Slot) and s.at == line.now for s in slots)


def test_a_429_pauses_every_client_until_its_hint_passes(pacers, upstream_on):
    clients, line = pacers
    upstream_on.limit, upstream_on.ratelimit_headers = 1, False  # only retry-after says when
    assert call(upstream_on).status_code == 200  # another tenant of the key spent the window
    probe = clients[0].acquire(KEY, deadline=line.now + 30)

    answer = call(upstream_on)
    clients[0].observe(KEY, heard(answer.headers, answer.status_code), status=answer.status_code, slot=probe, sent_at=line.now)
    hint = heard(answer.headers, answer.status_code).wait
    clients[0].pause(KEY, until=line.now + hint)

    assert (answer.status_code, hint) == (429, 12.0)
    assert clients[1].acquire(KEY, deadline=line.now + 5) == Wait(seconds=12.0, reason="paused")
    booked = clients[1].acquire(KEY, deadline=line.now + 30)
    assert isinstance(booked, Slot) and booked.at == line.now + 12.0 and booked.probe
    state = clients[0].state(KEY)
    assert (state.paused_until, state.last_429) == (line.now + 12.0, line.now)


def test_a_429_with_quota_headers_holds_every_client_past_the_reset(pacers, upstream_on):
    clients, line = pacers
    upstream_on.limit = 1
    assert call(upstream_on).status_code == 200
    probe = clients[0].acquire(KEY, deadline=line.now + 30)

    answer = call(upstream_on)
    clients[0].observe(KEY, heard(answer.headers, answer.status_code), status=answer.status_code, slot=probe, sent_at=line.now)
    clients[0].pause(KEY, until=line.now + heard(answer.headers, 429).wait)

    got = clients[1].acquire(KEY, deadline=line.now + 5)
    assert isinstance(got, Wait) and 12.0 <= got.seconds <= 12.0 + clients[1].margin


def test_an_admin_limit_spreads_calls_so_no_minute_is_over_spent(pacers):
    clients, line = pacers
    start = line.now

    slots = [clients[i % 2].acquire(KEY, deadline=start + 600, rpm=3) for i in range(9)]

    offsets = [round(s.at - start, 2) for s in slots]
    margin = clients[0].margin
    assert offsets == [0.0] * 3 + [60 + margin] * 3 + [120 + 2 * margin] * 3
    state = clients[0].state(KEY, rpm=3)
    assert (state.limit, state.source, state.remaining) == (3, ADMIN, 0)


def test_remaining_and_reset_from_a_success_cap_the_calls_before_the_reset(pacers):
    clients, line = pacers
    probe = clients[0].acquire(KEY, deadline=line.now + 60)
    quota = httpx.Headers({"x-ratelimit-limit-requests": "100", "x-ratelimit-remaining-requests": "1",
                           "x-ratelimit-reset-requests": "20s"})
    clients[0].observe(KEY, heard(quota, 200), status=200, slot=probe, sent_at=line.now)

    first = clients[1].acquire(KEY, deadline=line.now + 60)
    second = clients[1].acquire(KEY, deadline=line.now + 60)

    assert first.at == line.now  # remaining 1: reset is no wait
    assert second.at == line.now + 20 + clients[1].margin  # remaining spent: now it is
    state = clients[0].state(KEY)
    assert (state.limit, state.source, state.remaining, state.probing) == (100, LEARNED, 0, False)


def test_a_released_slot_goes_to_the_next_client(pacers):
    clients, line = pacers
    slots = [clients[0].acquire(KEY, deadline=line.now + 600, rpm=1) for _ in range(2)]

    clients[0].release(KEY, slots[1])
    again = clients[1].acquire(KEY, deadline=line.now + 600, rpm=1)

    assert again.at == slots[1].at


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_with_redis_unreachable_it_paces_in_process_on_a_share_and_logs_once(caplog):
    pacer = Pacer(f"redis://127.0.0.1:{closed_port()}/0")
    line = Timeline()
    pacer.timer = pacer.store_time = line.clock
    caplog.set_level(logging.INFO, logger="generation")

    slots = [pacer.acquire(KEY, deadline=line.now + 600, rpm=8) for _ in range(3)]
    pacer.link.retry_interval = 0  # try Redis again on every call: still one log line per outage
    slots += [pacer.acquire(KEY, deadline=line.now + 600, rpm=8) for _ in range(3)]

    # A quarter of the limit per process (8 -> 2 a minute): other hosts spend the rest.
    assert [s.at - line.now for s in slots] == [0, 0, 61, 61, 122, 122]  # the outage's wider margin: 1 s
    events = [r.event for r in caplog.records if getattr(r, "event", None)]
    assert events == ["redis_unavailable"]
    assert pacer.state(KEY, rpm=8).in_process


def test_with_redis_unreachable_every_answer_still_caps_the_calls_before_its_reset():
    pacer = Pacer(f"redis://127.0.0.1:{closed_port()}/0")
    line = Timeline()
    pacer.timer = pacer.store_time = line.clock
    probe = pacer.acquire(KEY, deadline=line.now + 60)
    pacer.observe(KEY, heard(httpx.Headers({"x-ratelimit-limit-requests": "40", "x-ratelimit-remaining-requests": "0",
                                      "x-ratelimit-reset-requests": "9s"}), 200), status=200, slot=probe, sent_at=line.now)

    got = pacer.acquire(KEY, deadline=line.now + 5)

    assert got == Wait(seconds=9.0 + pacer.outage_margin, reason="quota")


@pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL is not set")
def test_it_goes_back_to_redis_state_when_redis_answers_again(caplog):
    prefix = f"test-pacer-{uuid.uuid4().hex}:"
    pacer = Pacer(f"redis://127.0.0.1:{closed_port()}/0", prefix=prefix)
    caplog.set_level(logging.INFO, logger="generation")
    pacer.acquire(KEY, deadline=pacer.timer() + 600, rpm=1)
    pacer.remote, pacer.link.retry_interval = ScriptStore(redis.Redis.from_url(REDIS_URL), prefix=prefix), 0

    pacer.acquire(KEY, deadline=pacer.timer() + 600, rpm=1)  # Redis is back: booked there

    other_host = Pacer(REDIS_URL, prefix=prefix)
    assert other_host.state(KEY, rpm=1).remaining == 0
    assert [r.event for r in caplog.records if getattr(r, "event", None)] == ["redis_unavailable", "redis_recovered"]
    assert pacer.local.forget() == 0  # what it learned alone is dropped: Redis's state goes on
    other_host.forget()


@pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL is not set")
def test_a_script_error_is_logged_as_a_bug_not_as_an_outage(caplog):
    prefix = f"test-pacer-{uuid.uuid4().hex}:"
    pacer = Pacer(REDIS_URL, prefix=prefix)
    caplog.set_level(logging.INFO, logger="generation")
    redis.Redis.from_url(REDIS_URL).set(f"{prefix}{{{KEY}}}", "not a hash")  # a state the scripts cannot read

    got = pacer.acquire(KEY, deadline=pacer.timer() + 60, rpm=4)

    assert isinstance(got, Slot)  # the request still goes on, paced in process
    events = [r.event for r in caplog.records if getattr(r, "event", None)]
    assert events == ["pacer_script_error"] and not pacer.link.down
    pacer.forget()


def test_a_window_counts_from_when_a_call_went_out_not_from_its_booking(pacers):
    clients, line = pacers
    probe = clients[0].acquire(KEY, deadline=line.now + 30)
    line.now += 2.0  # a cold worker sent it late
    quota = httpx.Headers({"x-ratelimit-limit-requests": "1", "x-ratelimit-reset-requests": "12s"})
    clients[0].observe(KEY, heard(quota, 200), status=200, slot=probe, sent_at=line.now)

    following = clients[1].acquire(KEY, deadline=line.now + 60)

    assert following.at == probe.at + 2.0 + 12.0 + clients[1].margin


@pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL is not set")
def test_an_outage_paces_on_from_the_limit_learned_in_redis_and_the_calls_booked_there():
    prefix = f"test-pacer-{uuid.uuid4().hex}:"
    pacer, line = Pacer(REDIS_URL, prefix=prefix), Timeline()
    pacer.timer = pacer.store_time = line.clock
    probe = pacer.acquire(KEY, deadline=line.now + 60)
    pacer.observe(KEY, heard(httpx.Headers({"x-ratelimit-limit-requests": "4", "x-ratelimit-remaining-requests": "3",
                                      "x-ratelimit-reset-requests": "12s"}), 200), status=200, slot=probe, sent_at=line.now)
    booked = [pacer.acquire(KEY, deadline=line.now + 60) for _ in range(3)]
    pacer.remote.forget()
    pacer.remote = ScriptStore(redis.Redis.from_url(f"redis://127.0.0.1:{closed_port()}/0"), prefix=prefix)

    got = pacer.acquire(KEY, deadline=line.now + 60)

    assert [s.at for s in booked] == [line.now] * 3
    # A share of 4 is 1 per 12 s, and this process's 3 calls booked in Redis go now: the next, a window later.
    assert got.at == line.now + 12 + pacer.outage_margin
