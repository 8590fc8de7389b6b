"""The rules that learn a quota no header states (generation/providers/learning.py), as tables.

Times are seconds on the pacer's clock, passed in: nothing here sleeps.
"""
import pytest

from generation.providers import learning
from generation.providers.learning import DEFAULT_WINDOW, Aimd, Refills, Rule, Spacing
from generation.providers.signals import Signal


@pytest.mark.parametrize(("signal", "rule"), [
    (Signal("openai", limit=5, remaining=4, reset=12.0), Rule.HEADERS),
    (Signal("http", limit=5, remaining=4, reset=12.0), Rule.HEADERS),
    (Signal("azure", limit=5, remaining=4), Rule.REFILLS),
    (Signal("azure", wait=6.0, throttled=True), Rule.AIMD),  # an Azure deployment that sent no quota headers
    (Signal("google"), Rule.SPACING),
    (Signal("google", wait=12.0, throttled=True), Rule.SPACING),
    (Signal("replicate", wait=30.0, throttled=True), Rule.SPACING),
    (Signal("http", throttled=True), Rule.AIMD),
    (Signal("openai"), Rule.AIMD),  # an OpenAI-compatible server that sends no headers
])
def test_each_answer_feeds_the_rule_its_content_allows(signal, rule):
    assert learning.rule_for(signal) == rule


# -- refills (Azure) -----------------------------------------------------------------------

def refills(*answers: tuple[float, int | None], state: Refills = Refills()) -> Refills:
    for now, remaining in answers:
        state = learning.observe_refill(state, now=now, remaining=remaining)
    return state


BURST = [(0.0, 4), (1.0, 3), (2.0, 2), (3.0, 1), (4.0, 0)]  # 5 per window, spent in 5 s


@pytest.mark.parametrize(("answers", "window", "first_use"), [
    # nothing seen refill yet: a minute, Azure's own window
    ([], DEFAULT_WINDOW, None),
    (BURST, DEFAULT_WINDOW, 0.0),
    # a fixed 20 s window, the refill seen within a second of happening
    ([*BURST, (19.0, 0), (20.5, 4)], 20.5, 20.5),
    # a refill seen long after the last answer (traffic paused): not measured, the window restarts
    ([*BURST, (300.0, 4)], DEFAULT_WINDOW, 300.0),
    # answers arriving out of order within a second: no refill
    ([(0.0, 3), (0.3, 4)], DEFAULT_WINDOW, 0.0),
    # a window measured from a late first call comes out short; the longest recent one wins
    ([(50.0, 4), (59.5, 3), (60.5, 4), (115.0, 0), (120.5, 4)], 60.0, 120.5),
    # answers without `remaining` change nothing
    ([*BURST, (10.0, None)], DEFAULT_WINDOW, 0.0),
    # beyond an hour: not a window
    ([(0.0, 4), (3600.0, 0), (3601.0, 4)], DEFAULT_WINDOW, 3601.0),
])
def test_azures_window_is_learned_from_when_remaining_refills(answers, window, first_use):
    state = refills(*answers)
    assert (state.window, state.first_use) == (pytest.approx(window), first_use)


def test_only_the_latest_few_refills_count():
    state = Refills()
    now = 0.0
    for length in (100.0, 30.0, 30.0, 30.0, 30.0):
        state = refills((now, 4), (now + length - 1, 0), (now + length, 4), state=state)
        now += length
    assert state.estimates == (30.0, 30.0, 30.0, 30.0)
    assert state.window == 30.0


@pytest.mark.parametrize(("now", "reset"), [(0.0, 20.5), (10.5, 10.0), (20.5, 0.0), (500.0, 0.0)])
def test_the_learned_window_says_when_remaining_refills(now, reset):
    state = refills(*BURST, (19.0, 0), (20.5, 4))  # window 20.5, the current one began at 20.5
    assert state.reset_in(20.5 + now) == pytest.approx(reset)


def test_before_any_answer_no_refill_time_is_known():
    assert Refills().reset_in(10.0) is None


@pytest.mark.parametrize(("wait", "estimates", "window"), [
    (7.5, (12.0,), 12.0),  # the burst spent 5 in 4.5 s; the probe at 4.5 s is told the refill is 7.5 s away
    (None, (), DEFAULT_WINDOW),  # a 429 that names no refill teaches nothing
    (4000.0, (), DEFAULT_WINDOW),  # past an hour: not a window
])
def test_azures_window_is_learned_from_the_refill_a_429_names(wait, estimates, window):
    state = learning.refill_throttled(refills(*BURST), now=4.5, wait=wait)
    assert (state.estimates, state.window) == (estimates, window)


def test_after_a_429_the_next_answer_opens_a_window_without_measuring_twice():
    state = learning.refill_throttled(refills(*BURST), now=4.5, wait=7.5)
    state = refills((12.1, 4), (13.0, 3), state=state)
    assert (state.estimates, state.first_use) == ((12.0,), 12.1)


# -- spacing (Google) --------------------------------------------------------------------------

def spacing(*events: tuple, state: Spacing = Spacing()) -> Spacing:
    for event in events:
        if event[0] == "ok":
            state = learning.spacing_success(state, now=event[1])
        else:
            state = learning.spacing_throttled(state, now=event[1], wait=event[2])
    return state


FIVE = [("ok", 0.0), ("ok", 0.1), ("ok", 0.2), ("ok", 0.3), ("ok", 0.4)]


@pytest.mark.parametrize(("events", "limit", "window"), [
    # the burst: 5 per 12 s, the 6th call refused with retryDelay 11.5
    ([*FIVE, ("429", 0.5, 11.5)], 5, 12.0),
    # the other calls in flight refused too: nothing more learned, nothing unlearned
    ([*FIVE, ("429", 0.5, 11.5), ("429", 0.6, 11.4), ("429", 0.7, 11.3)], 5, 12.0),
    # the next window: 5 more, refused again, the same quota
    ([*FIVE, ("429", 0.5, 11.5), ("ok", 12.0), ("ok", 12.1), ("ok", 12.2), ("ok", 12.3), ("ok", 12.4),
      ("429", 12.5, 11.5)], 5, 12.0),
    # a 429 before any success teaches nothing
    ([("429", 0.0, 12.0)], None, None),
    # a daily quota (no wait) teaches no rate, and keeps what was learned
    ([*FIVE, ("429", 0.5, 11.5), ("ok", 12.0), ("429", 12.5, None)], 5, 12.0),
    # a pause longer than a window: the calls before it are not counted
    ([("ok", 0.0), ("ok", 1.0), ("ok", 200.0), ("ok", 200.5), ("429", 201.0, 11.0)], 2, 12.0),
    # a window past an hour is not learned
    ([("ok", 0.0), ("429", 1.0, 86400.0)], None, None),
])
def test_googles_quota_is_learned_from_the_spacing_of_its_429s(events, limit, window):
    state = spacing(*events)
    assert (state.limit, state.window) == (limit, None if window is None else pytest.approx(window))


# -- AIMD (no signal) --------------------------------------------------------------------------

def test_aimd_doubles_per_window_until_the_first_429():
    state = Aimd(rate=2.0)
    for _ in range(2):  # a window's worth of calls at 2 per minute
        state = learning.aimd_success(state)
    assert (state.rate, state.slow_start) == (4.0, True)


def test_aimd_halves_on_a_429_then_grows_by_one_call_per_window():
    state = learning.aimd_throttled(Aimd(rate=16.0), now=100.0, sent_at=99.0)
    assert (state.rate, state.slow_start, state.decreased_at) == (8.0, False, 100.0)
    for _ in range(8):  # one window's worth of successes at 8 per minute
        state = learning.aimd_success(state)
    assert state.rate == pytest.approx(9.0, rel=0.01)


@pytest.mark.parametrize(("sent_at", "rate"), [
    (99.0, 8.0),  # sent before the decrease at 100: the same overshoot, not halved again
    (100.0, 4.0),  # sent at the new rate and still refused: halve again
    (130.0, 4.0),
])
def test_aimd_halves_once_per_overshoot(sent_at, rate):
    state = learning.aimd_throttled(Aimd(rate=16.0), now=100.0, sent_at=95.0)
    state = learning.aimd_throttled(state, now=sent_at + 1, sent_at=sent_at)
    assert state.rate == rate


@pytest.mark.parametrize(("state", "event", "rate"), [
    (Aimd(rate=1.0, slow_start=False), "429", learning.MIN_RATE),
    (Aimd(rate=learning.MAX_RATE), "ok", learning.MAX_RATE),
    (Aimd(rate=learning.MAX_RATE, slow_start=False), "ok", learning.MAX_RATE),
])
def test_aimd_stays_within_its_bounds(state, event, rate):
    after = learning.aimd_success(state) if event == "ok" else learning.aimd_throttled(state, now=1.0, sent_at=1.0)
    assert after.rate == rate


def test_aimd_spaces_calls_by_its_rate():
    assert Aimd(rate=12.0).interval == 5.0
