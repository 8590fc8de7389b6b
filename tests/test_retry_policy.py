"""The pure retry rules, exhaustively and without sleeping."""
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from generation.engine import policy
from generation.error_codes import status_of
from generation.engine.policy import Action, Outcome

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)


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
    ("text", "seconds"),
    [("12ms", 0.012), ("6s", 6), ("1m30s", 90), ("1m0.5s", 60.5), ("59.8s", 59.8), ("2h3m", 7380), ("0s", 0)],
)
def test_it_parses_openai_reset_durations(text, seconds):
    assert policy.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "12", "1x", "s5", "1m30"])
def test_it_ignores_unparseable_durations(text):
    assert policy.parse_duration(text) is None


@pytest.mark.parametrize(
    ("headers", "hint"),
    [
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "9"}, 9.0),
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": (NOW + timedelta(seconds=20)).strftime("%a, %d %b %Y %H:%M:%S GMT")}, 20.0),
        ({"retry-after": (NOW - timedelta(seconds=20)).strftime("%a, %d %b %Y %H:%M:%S GMT")}, 0.0),
        ({"x-ratelimit-reset-requests": "1m30s"}, 90.0),
        ({"retry-after": "garbage", "x-ratelimit-reset-requests": "6s"}, 6.0),
        ({"retry-after-ms": "x", "retry-after": "2"}, 2.0),
        ({"x-ratelimit-remaining-requests": "0"}, None),
        ({}, None),
    ],
)
def test_it_reads_the_upstreams_hint(headers, hint):
    assert policy.rate_limit_hint(httpx.Headers(headers), now=NOW) == hint


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


def test_unavailable_cause_names_each_model_and_why():
    cause = policy.unavailable_cause({"openai/a": Outcome.AUTH_FAILED, "x/b": Outcome.QUOTA_EXHAUSTED,
                                      "foo/bar": Outcome.MODEL_UNSUPPORTED, "openai/c": Outcome.MODEL_NOT_FOUND})

    assert cause == ("openai/a: credentials missing or rejected; x/b: out of quota; "
                     "foo/bar: LiteLLM cannot route it or refuses its parameters; openai/c: unknown or retired model")
