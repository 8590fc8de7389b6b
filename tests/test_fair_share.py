"""The fair share of a model's quota among API tokens (docs/FAIRNESS.md), on a fake clock.

Every case runs the quota's own scripts against both stores, Redis (REDIS_URL) and in process,
like tests/test_pacer_rules.py. Requests are driven as the generator drives them: each asks, and
when queued asks again at the time it was given, with the same ticket; nobody sleeps.
"""
import heapq
import itertools
import math
import os
import uuid
from collections import Counter

import pytest

from generation.quota import fairness
from generation.quota.pacer import Claimant, Pacer, Queued, Slot, Wait

REDIS_URL = os.environ.get("REDIS_URL", "")
KEY = "openai/gpt-image-2#0123456789abcdef"
T0 = 1_000_000.0
RPM = 6  # the admin's limit: 6 calls per minute, a new one every 10 s once the window is full


def ask(store, at, ticket, token, *, weight=1, horizon=600.0, hold=True):
    return store.acquire_fair(KEY, now=T0 + at, horizon=horizon, rpm=RPM, lease=30.0, margin=0.25, ticket=ticket,
                              share=1.0, token=token, weight=weight, hold=hold)


def drive(store, arrivals, *, until=10_000.0):
    """arrivals: (time, token, weight, budget seconds). Each request asks, and asks again when
    queued, until served or refused. Returns ([(time served, token)], [(time refused, token, wait)])."""
    seq = itertools.count()
    events = [(at, next(seq), uuid.uuid4().hex, token, weight, at + budget) for at, token, weight, budget in arrivals]
    heapq.heapify(events)
    served, refused = [], []
    while events:
        at, _, ticket, token, weight, deadline = heapq.heappop(events)
        if at > until:
            break
        kind, wait, *_ = ask(store, at, ticket, token, weight=weight, horizon=deadline - at)
        if kind == "slot":
            served.append((at, token))
        elif kind == "queued":
            heapq.heappush(events, (at + wait, next(seq), ticket, token, weight, deadline))
        else:
            refused.append((at, token, wait))
    return served, refused


def backlog(tokens: dict[str, int], n: int):
    """Each token (weight) with `n` requests at 0, willing to wait an hour."""
    return [(0.0, token, weight, 3600.0) for token, weight in tokens.items() for _ in range(n)]


def window_shares(served, start, end):
    counts = Counter(token for at, token in served if start <= at < end)
    return counts


def test_two_tokens_of_equal_weight_take_turns_whoever_asked_first(store):
    # A's 30 requests all arrived before B's 30: first come, first served would give A the first
    # 30 slots. A takes the window's 6 free slots at once (nobody else waits); from then on each
    # gets half of every window while both wait.
    arrivals = [(0.0, "A", 1, 3600.0)] * 30 + [(0.5, "B", 1, 3600.0)] * 30
    served, refused = drive(store, arrivals)

    assert refused == []
    assert window_shares(served, 0, 1) == {"A": RPM}
    next_four_windows = window_shares(served, 1, 300)
    assert sum(next_four_windows.values()) == 4 * RPM  # no slot idle: the whole quota is used
    assert next_four_windows["A"] == next_four_windows["B"] == 12


def test_three_tokens_share_in_proportion_to_their_weights(store):
    served, _ = drive(store, backlog({"A": 1, "B": 2, "C": 3}, 40))

    # A's requests came first and took the free window; then nine windows, shared 1:2:3.
    shares = window_shares(served, 1, 600)
    assert sum(shares.values()) == 9 * RPM
    assert (shares["A"], shares["B"], shares["C"]) == (9, 18, 27)


def test_a_weight_of_3_against_1_gets_three_calls_in_four(store):
    served, _ = drive(store, backlog({"A": 1, "B": 3}, 40))

    shares = window_shares(served, 1, 400)
    assert sum(shares.values()) == 6 * RPM
    assert (shares["A"], shares["B"]) == (9, 27)


def test_a_token_alone_gets_the_whole_quota_with_no_slot_idle(store):
    served, refused = drive(store, backlog({"A": 1}, 30))

    assert refused == []
    assert len(served) == 30
    # Six at once (an empty window), then six as each window ends (+ 0.25 s margin): never a gap.
    assert [at for at, _ in served] == [pytest.approx(w * 60.25) for w in range(5) for _ in range(RPM)]


def test_a_token_arriving_late_gets_its_share_from_its_first_request_on(store):
    early = backlog({"A": 1}, 60)
    late = [(120.0, "B", 1, 3600.0)] * 30
    served, _ = drive(store, early + late)

    before = window_shares(served, 0, 120)
    after = window_shares(served, 120.5, 420.5)
    assert before == {"A": 12}
    # B is not owed the time it was away (no credit for being idle), nor put behind A's backlog.
    assert after["A"] == after["B"] == 15


def test_requests_whose_deadlines_pass_while_queued_leave_their_places_to_the_others(store):
    # Z fills the window at 0. A's 6 requests (70 s budgets) queue alone for the slots at 60.25;
    # B's 6 arrive at 2 and take half of them: A's last three would now be served at 120.5, past
    # their deadlines. They are refused when they ask again, told their token's next fair slot.
    arrivals = [(0.0, "Z", 1, 5.0)] * 6 + [(1.0, "A", 1, 70.0)] * 6 + [(2.0, "B", 1, 3600.0)] * 6
    served, refused = drive(store, arrivals)

    assert window_shares(served, 60, 61) == {"A": 3, "B": 3}
    assert [(at, token) for at, token, _ in refused] == [(pytest.approx(60.25), "A")] * 3
    assert all(float(wait).is_integer() and 60 <= wait <= 61 for _, _, wait in refused)
    assert window_shares(served, 61, 200) == {"B": 3}  # B's rest, the next window


def test_a_waiter_that_never_asks_again_lapses_and_holds_nobody_up(store):
    drive(store, [(0.0, "Z", 1, 5.0)] * 6)
    assert ask(store, 1.0, "gone", "A", horizon=70.0)[0] == "queued"  # then its process dies

    served, refused = drive(store, [(60.25 + fairness.GRACE + 0.1, "B", 1, 5.0)])

    assert len(served) == 1 and not refused


def test_a_client_back_at_its_retry_after_finds_its_slot(store):
    # A burst of 20 from one token with 5 s budgets: 6 served, 14 told when to come back.
    arrivals = [(0.0, "A", 1, 5.0)] * 20
    served, refused = drive(store, arrivals)
    assert len(served) == 6 and len(refused) == 14
    told = Counter(at + wait for at, _, wait in refused)
    assert max(told.values()) <= RPM  # never more told the same second than slots open then

    back, again = drive(store, [(at + wait, "A", 1, 5.0) for at, _, wait in refused])

    assert again == [] and len(back) == 14  # each found the place kept for it


def test_a_hold_nobody_claims_lapses_and_does_not_hold_the_queue_for_ever(store):
    drive(store, [(0.0, "A", 1, 5.0)] * 7)  # 6 served, one told to come back at ~61 s: it never does
    served, refused = drive(store, [(61.0 + fairness.GRACE + 1, "B", 1, 5.0)])

    assert served and not refused


def test_a_request_with_another_model_to_try_keeps_no_place(store):
    drive(store, [(0.0, "A", 1, 5.0)] * 6)
    kind, wait, *_ = ask(store, 0.0, "x", "A", horizon=5.0, hold=False)

    assert kind == "wait" and wait == pytest.approx(60.25)  # the exact slot, not rounded
    assert store.shares(KEY, now=T0)[1][0].held == 0


def test_who_waits_and_each_tokens_share_are_reported(store):
    drive(store, backlog({"A": 1, "B": 1}, 3), until=0.0)
    ask(store, 1.0, "b-late", "B", horizon=600.0)

    now, rows = store.shares(KEY, now=T0 + 2.0)

    assert now == pytest.approx(T0 + 2.0)
    by_token = {r.token: r for r in rows}
    assert (by_token["A"].served, by_token["B"].served) == (3, 3)
    assert (by_token["A"].waiting, by_token["B"].waiting) == (0, 1)
    assert by_token["B"].oldest == pytest.approx(1.0)


def test_the_pacer_facade_queues_refuses_and_grants_with_a_claimant():
    pacer = Pacer("")
    clock = [T0]
    pacer.store_time = lambda: clock[0]
    key, a = "m#1", Claimant(token="tokA", weight=2)
    slots = [pacer.acquire(key, now=0.0, deadline=600.0, rpm=1, claimant=a) for _ in range(2)]
    assert isinstance(slots[0], Slot) and isinstance(slots[1], Queued)
    assert slots[1].seconds == pytest.approx(60.25)
    refused = pacer.acquire(key, now=0.0, deadline=5.0, rpm=1, claimant=a, hold=True)
    assert isinstance(refused, Wait) and refused.seconds == math.ceil(120.25)
    clock[0] += 60.25
    again = pacer.acquire(key, now=60.25, deadline=600.0, rpm=1, claimant=a, ticket=slots[1].ticket)
    assert isinstance(again, Slot)
    with pytest.raises(ValueError):
        Claimant(token="a b")
