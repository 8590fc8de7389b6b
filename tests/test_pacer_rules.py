"""The pacer's rules as one table, run against both stores: Redis (REDIS_URL) and in process.

Each case is a list of steps on one fresh model, at times on the store's clock
(injected, as tests do; Redis TIME in production), and the answers the steps
must get. Both stores run the same scripts; this table is what proves it.
"""
import os

import pytest

from generation.quota import scripts
from generation.quota.store import ScriptStore

REDIS_URL = os.environ.get("REDIS_URL", "")
KEY = "openai/gpt-image-2#0123456789abcdef"
MARGIN = 0.25
T0 = 1_000_000.0


def acquire(at, horizon=600.0, rpm=0, lease=30.0, share=1.0):
    return ("acquire", at, {"horizon": horizon, "rpm": rpm, "lease": lease, "share": share})


def observe(at, ticket, limit=None, remaining=None, reset=None, status=200, sent_ago=0.0, period=None, quiet=False,
            reprobe=False):
    """`period`, `quiet`, `reprobe`: what a rule learned where no header states it (quota/learned.py)."""
    return ("observe", at, {"ticket": ticket, "limit": limit, "remaining": remaining, "reset": reset,
                            "status": status, "sent_ago": sent_ago, "period": period, "quiet": quiet,
                            "reprobe": reprobe})


def pause(at, seconds):
    return ("pause", at, {"seconds": seconds})


def state(at, rpm=0, share=1.0):
    return ("state", at, {"rpm": rpm, "share": share})


def paused_for(at, rpm=0):
    return ("paused_for", at, {"rpm": rpm})


def release(ticket, probe=False):
    return ("release", 0.0, {"ticket": ticket, "probe": probe})


HOUR = scripts.CAP
CASES = {
    "a cold model sends one probe; the others wait for its answer or its lease": (
        [acquire(0), acquire(0), acquire(31)],
        [("slot", 0, "probe"), ("wait", 30, "probe"), ("slot", 0, "probe")]),
    "the probe's answer sets the limit; remaining and reset cap the calls before the reset": (
        [acquire(0), observe(0, 0, limit=5, remaining=1, reset=10), acquire(0), acquire(0)],
        [("slot", 0, "probe"), None, ("slot", 0, ""), ("slot", 10 + MARGIN, "")]),
    "a sliding log books a full window at once and the next one after it": (
        [acquire(0), observe(0, 0, limit=2, remaining=1, reset=12), acquire(0), acquire(0), acquire(0, horizon=5)],
        [("slot", 0, "probe"), None, ("slot", 0, ""), ("slot", 12 + MARGIN, ""), ("wait", 12 + MARGIN, "quota")]),
    "an admin limit needs no probe and is per minute": (
        [acquire(0, rpm=2), acquire(0, rpm=2), acquire(0, rpm=2)],
        [("slot", 0, ""), ("slot", 0, ""), ("slot", 60 + MARGIN, "")]),
    "an answer without quota headers leaves the model unpaced": (
        [acquire(0), observe(0, 0), acquire(0), acquire(0), acquire(0)],
        [("slot", 0, "probe"), None, ("slot", 0, ""), ("slot", 0, ""), ("slot", 0, "")]),
    "a window opens when its call went out, not when it was booked": (
        [acquire(0), observe(3, 0, limit=1, reset=12, sent_ago=1), acquire(3)],
        [("slot", 0, "probe"), None, ("slot", 11 + MARGIN, "")]),  # sent at 2, seen at 3: 2 + 12 s
    "a reset counts from the answer, which may come long after the call went out": (
        [acquire(0), observe(5, 0, limit=2, remaining=0, reset=10, sent_ago=5), acquire(5)],
        [("slot", 0, "probe"), None, ("slot", 10 + MARGIN, "")]),  # answered at 5: 5 + 10 s
    "a pause claiming a day lasts an hour, then one call probes": (
        [pause(0, 86400), paused_for(10), acquire(10, horizon=60), acquire(10, horizon=2 * HOUR),
         acquire(10, horizon=2 * HOUR)],
        [None, HOUR - 10, ("wait", HOUR - 10, "paused"), ("slot", HOUR - 10, "probe"),
         ("wait", HOUR - 10 + 30, "probe")]),
    "a known model probes with one call after a pause, then books the rest": (
        [acquire(0, rpm=5), pause(0, 20), acquire(0, rpm=5), acquire(0, rpm=5), observe(20, 1, status=200),
         acquire(20, rpm=5)],
        [("slot", 0, ""), None, ("slot", 20, "probe"), ("wait", 50, "probe"), None, ("slot", 0, "")]),
    "an admin limit bounds a pause to its own minute": (
        [pause(0, 86400), acquire(0, rpm=3, horizon=120), paused_for(0, rpm=3), paused_for(0)],
        [None, ("slot", 60, "probe"), 60, HOUR]),
    "an admin limit bounds a block by remaining 0 to its own minute": (
        [acquire(0), observe(0, 0, limit=100, remaining=0, reset=86399), acquire(0, rpm=10, horizon=120)],
        [("slot", 0, "probe"), None, ("slot", 60 + MARGIN, "")]),
    "remaining 0 with a reset of a day blocks for an hour, not a day": (
        [acquire(0), observe(0, 0, limit=100, remaining=0, reset=86399), acquire(0, horizon=10), state(0)],
        [("slot", 0, "probe"), None, ("wait", HOUR + MARGIN, "quota"),
         {"limit": 100, "period": HOUR, "remaining": 0, "paused_for": 0, "blocked_for": HOUR + MARGIN}]),
    "during an outage a process spends its share of the limit": (
        [acquire(0, rpm=8, share=0.25), acquire(0, rpm=8, share=0.25), acquire(0, rpm=8, share=0.25),
         state(0, rpm=8, share=0.25)],
        [("slot", 0, ""), ("slot", 0, ""), ("slot", 60 + MARGIN, ""),
         {"limit": 8, "period": 60, "remaining": 0, "paused_for": 0, "blocked_for": 0}]),
    "a learned window not seen again for two windows shrinks to what answers say now": (
        [acquire(0), observe(0, 0, limit=5, reset=86400), state(0),
         observe(HOUR, 9, limit=5, reset=12), state(HOUR), observe(2 * HOUR + 1, 9, limit=5, reset=11), state(2 * HOUR + 1)],
        [("slot", 0, "probe"), None, {"limit": 5, "period": HOUR, "remaining": 4, "paused_for": 0, "blocked_for": 0},
         None, {"limit": 5, "period": HOUR, "remaining": 4, "paused_for": 0, "blocked_for": 0},
         None, {"limit": 5, "period": 12, "remaining": 5, "paused_for": 0, "blocked_for": 0}]),
    "a learned window is set as is, not grown like a stated reset": (
        [acquire(0), observe(0, 0, limit=5, remaining=4, reset=60), observe(1, 9, limit=5, period=12), state(1)],
        [("slot", 0, "probe"), None, None, {"limit": 5, "period": 12, "remaining": 4, "paused_for": 0,
                                            "blocked_for": 0}]),
    "a learned window's reset holds calls while remaining is 0": (
        [acquire(0), observe(0, 0, limit=5, remaining=0, reset=7, period=12), acquire(0)],
        [("slot", 0, "probe"), None, ("slot", 7 + MARGIN, "")]),
    "a quiet success keeps a model nothing states about probing, one call at a time": (
        [acquire(0), observe(0, 0, quiet=True), acquire(0), acquire(0)],
        [("slot", 0, "probe"), None, ("slot", 0, "probe"), ("wait", 30, "probe")]),
    "a rule's reprobe sends the next call alone": (
        [acquire(0), observe(0, 0, limit=5, period=1, reprobe=True), acquire(0), acquire(0)],
        [("slot", 0, "probe"), None, ("slot", 0, "probe"), ("wait", 30, "probe")]),
    "a released slot goes to the next call": (
        [acquire(0, rpm=1), acquire(0, rpm=1), release(1), acquire(0, rpm=1)],
        [("slot", 0, ""), ("slot", 60 + MARGIN, ""), None, ("slot", 60 + MARGIN, "")]),
}


def run(store: ScriptStore, steps) -> list:
    tickets, got = [], []
    for op, at, shared_args in steps:
        now, args = T0 + at, dict(shared_args)
        if op == "acquire":
            ticket = f"t{len(tickets)}"
            tickets.append(ticket)
            kind, wait, reason, *_ = store.acquire(KEY, now=now, margin=MARGIN, ticket=ticket, **args)
            got.append((kind, round(wait, 6), reason))
        elif op == "observe":
            index = args.pop("ticket")
            ticket = tickets[index] if index < len(tickets) else ""  # a call that went out unbooked
            status = args.pop("status")
            store.observe(KEY, now=now, ticket=ticket, answered=200 <= status < 300, status=status, booked_ago=0.0,
                          tolerance=min(1.0, (args["reset"] or 60) / 4), why="", **args)
            got.append(None)
        elif op == "pause":
            store.pause(KEY, now=now, **args)
            got.append(None)
        elif op == "release":
            store.release(KEY, ticket=tickets[args["ticket"]], probe=args["probe"])
            got.append(None)
        elif op == "paused_for":
            got.append(round(store.paused_for(KEY, now=now, **args), 6))
        else:
            raw = store.state(KEY, now=now, margin=MARGIN, **args)
            got.append({"limit": raw.limit, "period": raw.period, "remaining": raw.remaining,
                        "paused_for": round(raw.paused_for, 6), "blocked_for": round(raw.blocked_for, 6)})
    return got


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_both_stores_follow_the_rules(store, case):
    steps, expected = CASES[case]

    assert run(store, steps) == expected


def test_what_no_answer_confirms_expires(store):
    store.acquire(KEY, now=T0, horizon=60, rpm=0, lease=30, margin=MARGIN, ticket="a", share=1.0)
    store.observe(KEY, now=T0, ticket="a", limit=5, remaining=4, reset=12, answered=True, status=200, booked_ago=0,
                  sent_ago=0, tolerance=1.0, why="")

    ttls = [store.client.ttl(k) for k in store.client.scan_iter(f"{store.prefix}*")]

    assert len(ttls) == 2 and all(0 < ttl <= scripts.TTL for ttl in ttls)


def test_an_operator_forgets_one_model_or_all(store):
    for key in (KEY, "other#x"):
        store.pause(key, now=T0, seconds=30)

    assert store.forget(KEY) == 1
    assert store.paused_for(KEY, now=T0) == 0 and store.paused_for("other#x", now=T0) == 30
    assert store.forget() == 1
    assert store.paused_for("other#x", now=T0) == 0
