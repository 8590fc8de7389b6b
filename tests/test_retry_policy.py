"""The pure retry rules, exhaustively and without sleeping."""
import pytest

from generation.engine import policy
from generation.error_codes import status_of
from generation.engine.policy import Action, Decision, Outcome, Step


DECISIONS = {
    Outcome.RATE_LIMITED: Action.RETRY,
    Outcome.SERVER_ERROR: Action.RETRY,
    Outcome.TIMEOUT: Action.RETRY,
    Outcome.CONNECTION_ERROR: Action.RETRY,
    Outcome.MALFORMED: Action.RETRY,
    Outcome.QUOTA_EXHAUSTED: Action.NEXT_MODEL,
    Outcome.MODEL_NOT_FOUND: Action.NEXT_MODEL,
    Outcome.AUTH_FAILED: Action.NEXT_MODEL,
    Outcome.MODEL_UNSUPPORTED: Action.NEXT_MODEL,
    Outcome.CONTENT_POLICY: Action.STOP,
    Outcome.BAD_REQUEST: Action.STOP,
}


@pytest.mark.parametrize(("outcome", "action"), DECISIONS.items())
def test_it_decides_by_outcome(outcome, action):
    assert policy.action_for(outcome) is action


def test_every_failure_outcome_has_the_expected_decision():
    # Compared, not merely truthy: every Enum member is truthy, so `assert action_for(o)` could not fail.
    failures = set(Outcome) - {Outcome.SUCCEEDED}
    assert {o: policy.action_for(o) for o in failures} == DECISIONS


@pytest.mark.parametrize(
    ("max_retries", "retry_delay", "worst"),
    [(3, 1.0, 7.0), (5, 2.0, 62.0), (7, 3.0, 381.0), (0, 1.0, 0.0), (1, 0.5, 0.5)],
)
def test_it_computes_the_seed_tiers_worst_case(max_retries, retry_delay, worst):
    assert policy.worst_case_backoff(max_retries, retry_delay) == worst


def test_worst_case_equals_the_sum_of_the_caps():
    assert policy.worst_case_backoff(5, 2.0) == sum(policy.backoff_cap(i, 2.0) for i in range(5))


def test_the_budget_caps_the_total_worst_case():
    assert policy.worst_case_wait(max_retries=5, retry_delay=2.0, models=2, max_wait=30) == (62.0, 30)
    assert policy.worst_case_wait(max_retries=3, retry_delay=1.0, models=2, max_wait=30) == (7.0, 14.0)


@pytest.mark.parametrize("rand", [0.0, 0.25, 0.999])
@pytest.mark.parametrize("retry", [0, 1, 4])
def test_full_jitter_stays_under_the_cap(retry, rand):
    delay = policy.backoff_delay(retry, 1.5, hint=None, rand=rand)

    assert 0 <= delay < policy.backoff_cap(retry, 1.5)
    assert delay == pytest.approx(rand * 1.5 * 2**retry)


def test_a_hint_lengthens_the_wait_and_never_shortens_it():
    assert policy.backoff_delay(0, 1.0, hint=12.0, rand=0.5) == 12.0
    assert policy.backoff_delay(3, 1.0, hint=0.2, rand=0.5) == 4.0


@pytest.mark.parametrize(
    ("last_outcomes", "answer"),
    [
        ([Outcome.RATE_LIMITED], (429, "rate_limit_exceeded")),
        ([Outcome.QUOTA_EXHAUSTED, Outcome.RATE_LIMITED], (429, "rate_limit_exceeded")),
        ([Outcome.TIMEOUT, Outcome.MODEL_NOT_FOUND], (504, "upstream_timeout")),
        ([Outcome.SERVER_ERROR], (502, "upstream_error")),
        ([Outcome.MALFORMED, Outcome.AUTH_FAILED], (502, "upstream_error")),
        ([Outcome.QUOTA_EXHAUSTED, Outcome.MODEL_NOT_FOUND, Outcome.AUTH_FAILED], (503, "upstream_unavailable")),
        ([Outcome.CONTENT_POLICY], (422, "content_policy_violation")),
        ([Outcome.BAD_REQUEST], (502, "upstream_error")),
    ],
)
def test_it_answers_by_the_last_outcome_of_each_model(last_outcomes, answer):
    code = policy.final_error(last_outcomes)
    assert (status_of(code), code) == answer


def test_retry_after_is_whole_seconds_at_least_one():
    assert [policy.retry_after_seconds(w) for w in (None, 0, 0.2, 1.0, 11.2)] == [None, 1, 1, 1, 12]


# -- what to do after an attempt, and before one --------------------------------------

RL, SE, TO, QE, CP = Outcome.RATE_LIMITED, Outcome.SERVER_ERROR, Outcome.TIMEOUT, Outcome.QUOTA_EXHAUSTED, \
    Outcome.CONTENT_POLICY
CALL, NEXT, STOP, REJECT = Step.CALL, Step.NEXT_MODEL, Step.STOP, Step.REJECT


@pytest.mark.parametrize(
    ("outcome", "retry", "hint", "wait_left", "time_left", "more", "expected"),
    [
        # retry on the backoff (rand 0.5 of cap 1 * 2**retry), or on the hint when it is longer
        (SE, 0, None, 30, 180, False, Decision(CALL, delay=0.5)),
        (SE, 2, None, 30, 180, False, Decision(CALL, delay=2.0)),
        (RL, 0, 12.0, 30, 180, False, Decision(CALL, delay=12.0)),
        (RL, 1, 0.2, 30, 180, True, Decision(CALL, delay=1.0)),
        (TO, 0, None, 30, 180, False, Decision(CALL, delay=0.5)),
        # out of retries: the next model, else stop; a rate limit says when it would pass
        (SE, 3, None, 30, 180, True, Decision(NEXT)),
        (SE, 3, None, 30, 180, False, Decision(STOP)),
        (RL, 3, None, 30, 180, True, Decision(NEXT, retry_after=8.0)),
        (RL, 3, 20.0, 30, 180, False, Decision(REJECT, retry_after=20.0)),
        # a wait beyond the wait budget is not started
        (RL, 0, 40.0, 30, 180, True, Decision(NEXT, retry_after=40.0)),
        (RL, 0, 40.0, 30, 180, False, Decision(REJECT, retry_after=40.0)),
        (SE, 2, None, 1.5, 180, False, Decision(STOP)),
        # nor a wait that leaves less than a call's worth of the total
        (SE, 0, None, 30, 1.2, False, Decision(STOP)),
        (SE, 0, None, 30, 1.5, False, Decision(CALL, delay=0.5)),
        (RL, 0, 5.0, 30, 5.5, False, Decision(REJECT, retry_after=5.0)),
        # what waiting cannot cure
        (QE, 0, None, 30, 180, True, Decision(NEXT)),
        (QE, 0, None, 30, 180, False, Decision(STOP)),
        (CP, 0, None, 30, 180, True, Decision(STOP)),
    ],
)
def test_next_step_after_an_attempt(outcome, retry, hint, wait_left, time_left, more, expected):
    decision = policy.next_step(outcome=outcome, retry=retry, max_retries=3, retry_delay=1.0, hint=hint, rand=0.5,
                                wait_left=wait_left, time_left=time_left, more_models=more)

    assert decision == expected


@pytest.mark.parametrize(
    ("slot_wait", "wait_left", "time_left", "more", "expected"),
    [
        (0.0, 30, 180, False, Decision(CALL, delay=0.0)),
        (24.5, 30, 180, False, Decision(CALL, delay=24.5)),
        (30.0, 30, 180, False, Decision(CALL, delay=30.0)),
        (36.75, 30, 180, True, Decision(NEXT, retry_after=36.75)),
        (36.75, 30, 180, False, Decision(REJECT, retry_after=36.75, at_admission=True)),
        (10.0, 30, 10.5, False, Decision(REJECT, retry_after=10.0, at_admission=True)),  # no time left to call
        (0.0, 30, 0.5, False, Decision(REJECT, retry_after=0.0, at_admission=True)),
    ],
)
def test_admission_before_a_call(slot_wait, wait_left, time_left, more, expected):
    assert policy.admission(slot_wait, wait_left=wait_left, time_left=time_left, more_models=more) == expected


@pytest.mark.parametrize(("seconds", "ms"), [(None, None), (0.0123, 12), (1e309, None), (float("nan"), None),
                                            (-1.0, 0), (10**12, 86_400_000)])
def test_stored_milliseconds_never_overflow_a_row(seconds, ms):
    assert policy.clamp_ms(seconds) == ms


@pytest.mark.parametrize(("wait", "header"), [(0.2, 1), (36.01, 37), (1e12, 86400), (float("inf"), 86400)])
def test_retry_after_is_bounded_whole_seconds(wait, header):
    assert policy.retry_after_seconds(wait) == header


def test_unavailable_cause_names_each_model_and_why():
    cause = policy.unavailable_cause({"openai/a": Outcome.AUTH_FAILED, "x/b": Outcome.QUOTA_EXHAUSTED,
                                      "foo/bar": Outcome.MODEL_UNSUPPORTED, "openai/c": Outcome.MODEL_NOT_FOUND})

    assert cause == ("openai/a: credentials missing or rejected; x/b: out of quota; "
                     "foo/bar: LiteLLM cannot route it or refuses its parameters; openai/c: unknown or retired model")


# -- the loop's other decisions: budgets from arrival, waiting on a probe, pausing after a 429 --------

ASK = Step.ASK_AGAIN


@pytest.mark.parametrize(("requested_wait", "requested_timeout", "expected"), [
    (None, None, (30, 180)),
    (2.5, 30, (2.5, 30)),
    (90, 900, (30, 180)),  # a request shortens its budgets, never lengthens them
    (0, 1, (0, 1)),
])
def test_request_budgets(requested_wait, requested_timeout, expected):
    assert policy.request_budgets(max_wait=30, total_timeout=180, requested_wait=requested_wait,
                                  requested_timeout=requested_timeout) == expected


@pytest.mark.parametrize(("time_left", "expected"), [
    (180, 120), (119.5, 119.5), (0.9, 0.9),  # a 1 s request still gets its call
    (0.05, 0.05), (0.049, None), (0, None), (-3, None),
])
def test_call_timeout(time_left, expected):
    assert policy.call_timeout(timeout=120, time_left=time_left) == expected


@pytest.mark.parametrize(("probe_left", "wait_left", "time_left", "expected"), [
    (5.0, 30, 180, Decision(ASK, delay=0.1)),  # look again shortly
    (0.03, 30, 180, Decision(ASK, delay=0.03)),  # the probe's lease ends sooner than the next look
    (5.0, 0.05, 180, Decision(CALL)),  # no wait budget for even a look: go out unbooked
    (5.0, 30, 1.05, Decision(CALL)),  # a look would leave less than a call's worth of time
    (-1.0, 30, 180, Decision(ASK, delay=0.0)),
])
def test_while_another_call_probes(probe_left, wait_left, time_left, expected):
    assert policy.while_probing(probe_left, wait_left=wait_left, time_left=time_left) == expected


@pytest.mark.parametrize(("hint", "decision", "expected"), [
    (30.0, Decision(CALL, delay=0.4), 30.0),  # the provider's hint, for everyone
    (0.0, Decision(CALL, delay=0.4), 0.0),  # a hint of 0 is a hint
    (None, Decision(CALL, delay=0.4), 0.4),  # no hint: as long as this request backs off
    (None, Decision(REJECT, retry_after=8.0), 8.0),  # or would have told its client to
    (None, Decision(STOP), 0.0),
])
def test_pause_after_a_rate_limit(hint, decision, expected):
    assert policy.pause_after_rate_limit(hint=hint, decision=decision) == expected
