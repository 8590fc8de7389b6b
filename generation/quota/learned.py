"""What the pacer learns of a quota that no answer states whole, and what it tells the scripts.

The rules themselves are pure and live with the providers' signals (`providers/learning.py`,
docs/PROVIDERS.md): Azure's window from refills, Google's limit and window from the spacing of
its 429s, AIMD for a provider that says nothing. This module is their one step per answer:
from the model's stored learning state (one JSON field of its hash) and the answer's `Signal`,
the next state and what the OBSERVE script is told (a limit, a window, a reset). The store
runs `step` inside one WATCH/MULTI transaction (`store.ScriptStore.learn`), so every worker
and host updates the same state, on the store's clock, Redis or in process alike.

Pure: no I/O, no clock of its own.
"""
import json
import math
from dataclasses import asdict, dataclass

from ..providers.learning import (DEFAULT_WINDOW, Aimd, Refills, Rule, Spacing, aimd_success, aimd_throttled,
                                  observe_refill, refill_throttled, rule_for, spacing_success, spacing_throttled)
from ..providers.signals import Signal

# While a refilling quota's window is not known yet, its limit is booked per this many seconds (the
# calls go one at a time meanwhile): a spent window is probed this soon, not a minute later, and
# the probe's 429 names the refill (`refill_throttled`).
PROBE_AFTER = 1.0
# A quota whose window (Azure) or limit (Google) is not known yet is called one call at a time (each
# a probe), so that the first 429 teaches it at the cost of one call; after this many successes
# without one, the quota is taken to be out of reach of this traffic (Google: open; Azure: a minute).
PROBE_RUN = 30
_MAX_STATE = 4096  # characters of stored JSON read back; more is not ours


@dataclass(frozen=True)
class Step:
    """One answer's lesson: the state to store and what the OBSERVE script is told."""

    state: str  # JSON, stored in the model's hash
    limit: int | None = None  # calls per `period`, when a rule learned one
    period: float | None = None  # seconds: a learned window, set as is
    reset: float | None = None  # seconds until the current window refills, when a rule knows it
    quiet: bool = False  # a success without a limit does not open the model: keep probing
    reprobe: bool = False  # the next call goes alone, as a probe


@dataclass(frozen=True)
class Learning:
    """What the admin shows: whose signals the model follows, the rule, what it learned."""

    source: str = ""  # the adapter that read the last answer: openai, azure, google, replicate, http
    rule: str = ""  # providers.learning.Rule's value
    window: float | None = None  # seconds, learned (refills, spacing)
    limit: int | None = None  # calls per window, learned (spacing)
    rate: float | None = None  # calls per minute, learned (AIMD, after its first 429)
    daily_quota: bool = False  # the last 429 looked like a per-day quota


def _load(raw: str | bytes | None) -> dict:
    if not raw or len(raw) > _MAX_STATE:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _plain(value) -> bool:
    """A number, a flag or nothing, or a short list of numbers: what the rules' states hold."""
    if isinstance(value, list):
        return len(value) <= 16 and all(isinstance(v, (int, float)) and math.isfinite(v) for v in value)
    return value is None or isinstance(value, bool) or (isinstance(value, (int, float)) and math.isfinite(value))


def _part(stored: dict, name: str, kind):
    """`kind` rebuilt from its stored fields; a fresh one when they are missing or broken."""
    fields = stored.get(name)
    if not isinstance(fields, dict) or not all(_plain(v) for v in fields.values()):
        return kind()
    try:
        part = kind(**fields)
        if isinstance(part, Refills):
            part = Refills(part.first_use, part.last_seen, part.last_remaining, tuple(part.estimates))
        return part
    except (TypeError, ValueError):
        return kind()


def step(raw: str | bytes | None, signal: Signal, *, now: float, sent_at: float, answered: bool) -> Step:
    """The lesson of one answer at `now` (the store's clock) for a call sent at `sent_at`.
    `answered`: a success; a refusal is `signal.throttled`. Anything else teaches nothing."""
    stored = _load(raw)
    if not (answered or signal.throttled):
        return Step(state=json.dumps(stored))
    rule = rule_for(signal)
    stored.update(source=signal.source, rule=rule.value, daily=signal.daily_quota)
    lesson = {}
    if rule is Rule.REFILLS:
        lesson = _refills(stored, signal, now=now, sent_at=sent_at)
    elif rule is Rule.SPACING:
        lesson = _spacing(stored, signal, now=now, sent_at=sent_at)
    elif rule is Rule.AIMD:
        lesson = _aimd(stored, signal, now=now, sent_at=sent_at)
    return Step(state=json.dumps(stored), **lesson)


def _refills(stored: dict, signal: Signal, *, now: float, sent_at: float) -> dict:
    state = _part(stored, "refills", Refills)
    if signal.throttled:
        state = refill_throttled(state, now=now, wait=signal.wait)
    else:
        # A window opens when its first call arrives, not when its answer comes back (an image takes
        # seconds, a cold worker's first call longer): measured from the answer, the window would come
        # out short by that call's time and the next window's calls would go early.
        state = observe_refill(state, now=sent_at, remaining=signal.remaining)
    stored["refills"] = asdict(state)
    if state.estimates:
        return {"limit": signal.limit, "period": state.window, "reset": state.reset_in(now)}
    # The window is not known: rather than book the minute assumed (a burst would be told to come
    # back in a minute), calls go one at a time, so the one that finds the window spent is refused
    # alone and its retry-after-ms names the refill. For PROBE_RUN successes at most.
    probed = stored.get("probed")
    probed = (probed if isinstance(probed, int) and probed >= 0 else 0) + (not signal.throttled)
    stored["probed"] = probed
    if probed < PROBE_RUN:
        return {"limit": signal.limit, "period": PROBE_AFTER, "reprobe": True}
    return {"limit": signal.limit, "period": DEFAULT_WINDOW}


def _spacing(stored: dict, signal: Signal, *, now: float, sent_at: float) -> dict:
    state = _part(stored, "spacing", Spacing)
    if signal.throttled:
        state = spacing_throttled(state, now=now, wait=signal.wait)
    else:
        state = spacing_success(state, now=sent_at)  # as for refills: the window opened when it was sent
    stored["spacing"] = asdict(state)
    quiet = state.limit is None and state.served < PROBE_RUN
    return {"limit": state.limit, "period": state.window, "quiet": quiet}


def _aimd(stored: dict, signal: Signal, *, now: float, sent_at: float) -> dict:
    state = _part(stored, "aimd", Aimd)
    state = aimd_throttled(state, now=now, sent_at=sent_at) if signal.throttled else aimd_success(state)
    stored["aimd"] = asdict(state)
    stored["passed"] = stored.get("passed") is True or not signal.throttled
    # Nothing refused yet, or nothing ever passed (another tenant spent the quota: the rate that
    # passes is not known to be low): nothing to pace, the loop's backoff holds the model off.
    if state.slow_start or not stored["passed"]:
        return {}
    return {"limit": max(1, math.floor(state.rate)), "period": 60.0}


def learning(raw: str | bytes | None) -> Learning:
    """The stored state in the admin's terms."""
    stored = _load(raw)
    rule, learned = str(stored.get("rule", ""))[:16], Learning()
    if rule == Rule.REFILLS.value:
        refills = _part(stored, "refills", Refills)
        learned = Learning(window=refills.window if refills.estimates else None)
    elif rule == Rule.SPACING.value:
        spacing = _part(stored, "spacing", Spacing)
        learned = Learning(window=spacing.window, limit=spacing.limit)
    elif rule == Rule.AIMD.value:
        aimd = _part(stored, "aimd", Aimd)
        learned = Learning(rate=None if aimd.slow_start or stored.get("passed") is not True else aimd.rate)
    return Learning(source=str(stored.get("source", ""))[:16], rule=rule, window=learned.window,
                    limit=learned.limit, rate=learned.rate, daily_quota=stored.get("daily") is True)
