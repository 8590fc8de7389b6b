"""What can be learned of a quota that no header states, from the answers themselves.

Pure: no I/O and no clock of its own; the time of each answer is passed in (the pacer's shared
clock). Each rule is a small frozen state and functions from (state, observation) to the next
state, so the pacer can keep one per model wherever it keeps its state, and every rule is a
table test (tests/test_quota_learning.py). Which rule a model's answers feed is `rule_for`;
how the pacer uses what they learn is in docs/PROVIDERS.md.

- Refills (Azure): a limit and `remaining`, no reset. The window is the time from the first
  call counted in a window to the answer that shows `remaining` risen again, or to the refill a
  429's `retry-after-ms` names.
- Spacing (Google, Replicate): no limit at all, but each 429 says when the quota reopens. The
  calls served from the first success after a 429 (or a pause) to the next 429 are the limit;
  from that first success to the reopening the 429 names is the window.
- AIMD (Bedrock and anything silent): the rate that passes, found the way TCP finds a link's:
  double per window until the first 429 (slow start), then one more call per window for each
  window of successes, halved on a 429 of a call sent at the current rate.
"""
import enum
from dataclasses import dataclass, replace

from .signals import Signal

MIN_WINDOW, MAX_WINDOW = 1.0, 3600.0  # seconds: a learned window outside these is noise or an outage
DEFAULT_WINDOW = 60.0  # Azure's quotas are per minute, per deployment, until a refill says otherwise
KEEP = 4  # refill estimates remembered: the window is the longest of the latest few
MAX_LIMIT = 10**9


class Rule(enum.Enum):
    HEADERS = "headers"  # the answer states limit, remaining and reset: follow them
    REFILLS = "refills"  # limit and remaining without a reset: learn the window from refills
    SPACING = "spacing"  # only a wait on each 429: learn limit and window from their spacing
    AIMD = "aimd"  # nothing: learn the rate that passes


def rule_for(signal: Signal) -> Rule:
    """The rule an answer feeds: by what it states first, then by who sent it."""
    if signal.limit is not None:
        return Rule.HEADERS if signal.reset is not None else Rule.REFILLS
    if signal.source in ("google", "replicate"):
        return Rule.SPACING
    return Rule.AIMD


def _window(seconds: float) -> float | None:
    return seconds if MIN_WINDOW <= seconds <= MAX_WINDOW else None


# -- refills: the window behind `remaining` ---------------------------------------------

TIGHT = 0.25  # a refill is measured only when seen within this share of the window after the last answer


@dataclass(frozen=True)
class Refills:
    first_use: float | None = None  # the first answer counted in the current window
    last_seen: float | None = None  # the latest answer, and its `remaining`
    last_remaining: int | None = None
    estimates: tuple[float, ...] = ()  # oldest first, at most KEEP

    @property
    def window(self) -> float:
        """The longest recent estimate (a window measured from a late first call comes out short)."""
        return max(self.estimates) if self.estimates else DEFAULT_WINDOW

    def reset_in(self, now: float) -> float | None:
        """Seconds until the current window is expected to refill: the reset Azure does not send."""
        if self.first_use is None:
            return None
        return min(max(self.first_use + self.window - now, 0.0), MAX_WINDOW)


def observe_refill(state: Refills, *, now: float, remaining: int | None) -> Refills:
    """One answer's `remaining`, at `now`. A rise means the window refilled since the last answer.

    The refill happened between the last answer and this one, so the window is measured only when
    that gap is short beside it (a pause in traffic would stretch it). A rise within MIN_WINDOW is
    answers arriving out of order (several workers), not a refill.
    """
    if remaining is None:
        return state
    if state.first_use is None or state.last_seen is None or state.last_remaining is None:
        return Refills(first_use=now, last_seen=now, last_remaining=remaining, estimates=state.estimates)
    elapsed = now - state.first_use
    if remaining <= state.last_remaining or elapsed < MIN_WINDOW:
        return replace(state, last_seen=now, last_remaining=remaining)
    tight = now - state.last_seen <= TIGHT * elapsed and elapsed <= MAX_WINDOW
    estimates = (*state.estimates, elapsed)[-KEEP:] if tight else state.estimates
    return Refills(first_use=now, last_seen=now, last_remaining=remaining, estimates=estimates)


def refill_throttled(state: Refills, *, now: float, wait: float | None) -> Refills:
    """A 429 at `now` whose `retry-after-ms` says the window refills in `wait` seconds: the window
    ran from its first call to then, stated rather than seen. This is how the window is learned
    when it is shorter than the minute assumed (the pacer lets one call probe an exhausted
    window): the next answer then opens a new window."""
    if wait is None or state.first_use is None:
        return state
    elapsed = now + wait - state.first_use
    estimates = (*state.estimates, elapsed)[-KEEP:] if MIN_WINDOW <= elapsed <= MAX_WINDOW else state.estimates
    return Refills(estimates=estimates)


# -- spacing: limit and window from the 429s ---------------------------------------------------

@dataclass(frozen=True)
class Spacing:
    served: int = 0  # successes in the current run: since the last 429, or since a pause
    first_served_at: float | None = None  # the run's first success: where its window began
    last_served_at: float | None = None
    limit: int | None = None  # learned: calls per window
    window: float | None = None  # learned: seconds from a window's first call to its reopening


def spacing_success(state: Spacing, *, now: float) -> Spacing:
    """A call passed at `now`. After a pause longer than a window, the count starts again: the
    quota refilled unseen, and the calls before the pause say nothing of the next window."""
    if state.last_served_at is None or now - state.last_served_at > (state.window or DEFAULT_WINDOW):
        return replace(state, served=1, first_served_at=now, last_served_at=now)
    return replace(state, served=min(state.served + 1, MAX_LIMIT), last_served_at=now)


def spacing_throttled(state: Spacing, *, now: float, wait: float | None) -> Spacing:
    """A 429 at `now` asking to wait `wait` seconds: the run's calls were the quota of a window that
    reopens at now + wait. No wait (a daily quota) teaches no rate. Further 429s of the same
    exhausted window (calls in flight together) follow no success and teach nothing."""
    over = replace(state, served=0, first_served_at=None, last_served_at=None)
    if wait is None or state.first_served_at is None:
        return over
    window = _window(now + wait - state.first_served_at)
    return over if window is None else replace(over, limit=state.served, window=window)


# -- AIMD: the rate that passes ------------------------------------------------------------

MIN_RATE, MAX_RATE = 1.0, 10_000.0  # calls per minute
START_RATE = 2.0


@dataclass(frozen=True)
class Aimd:
    rate: float = START_RATE  # calls per minute
    slow_start: bool = True  # no 429 yet: grow by doubling
    decreased_at: float | None = None  # when the last 429 halved the rate

    @property
    def interval(self) -> float:
        """Seconds between calls at this rate."""
        return 60.0 / self.rate


def aimd_success(state: Aimd, *, increase: float = 1.0) -> Aimd:
    """One call passed: +1 per call in slow start (doubling per window), else +`increase` per window."""
    step = 1.0 if state.slow_start else increase / state.rate
    return replace(state, rate=min(state.rate + step, MAX_RATE))


def aimd_throttled(state: Aimd, *, now: float, sent_at: float, factor: float = 0.5) -> Aimd:
    """A 429 for a call sent at `sent_at`. Calls sent before the last decrease were sent at the old
    rate: their 429s are that overshoot again, not news, and do not halve the rate twice."""
    if state.decreased_at is not None and sent_at < state.decreased_at:
        return state
    return Aimd(rate=max(state.rate * factor, MIN_RATE), slow_start=False, decreased_at=now)
