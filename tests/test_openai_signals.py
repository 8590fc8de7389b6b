"""OpenAI's hint headers as the contract reads them (`providers.signals.read_openai`), broken values
included: none fails a request. Other providers' signals: tests/test_provider_signals.py."""
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

from generation.providers import signals
from generation.providers.signals import Answer, Signal
from generation.quota import pacing

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)
BROKEN = ["nan", "NaN", "inf", "-inf", "Infinity", "1e309", "1e1", "99999999999999999999", "-1", "-0.5", "",
          " ", "soon", "0x10", "12abc", "1_000", "٣", "12" * 40, "86400.5", "90000"]


class hints:  # noqa: N801 - the contract's words for what these tests read
    bounded = staticmethod(signals.bounded)
    parse_duration = staticmethod(signals.parse_duration)

    @staticmethod
    def wait_hint(headers, *, status, now):
        return pacing.believed(signals.read_openai(Answer(status, headers), now=now).wait)

    @staticmethod
    def quota(headers):
        return signals.read_openai(Answer(200, headers), now=NOW)


def Quota(**parts) -> Signal:  # noqa: N802 - what an answer says of the quota, read from a success
    return Signal("openai", **parts)


def h(**values) -> httpx.Headers:
    return httpx.Headers({k.replace("_", "-"): v.encode() for k, v in values.items()})


@pytest.mark.parametrize(
    ("headers", "status", "wait"),
    [
        # explicit waits on a 429 or a 503, most precise first
        (h(retry_after="12"), 429, 12.0),
        (h(retry_after="0"), 429, 0.0),
        (h(retry_after="2.5"), 503, 2.5),
        (h(retry_after_ms="1500", retry_after="2"), 429, 1.5),
        (h(retry_after=format_datetime(NOW + timedelta(seconds=30), usegmt=True)), 429, 30.0),
        (h(retry_after=format_datetime(NOW - timedelta(seconds=30), usegmt=True)), 429, 0.0),
        (h(retry_after="86400"), 429, 3600.0),  # a day's claim is believed for an hour
        # a broken precise header falls through to the plain one
        (h(retry_after_ms="nan", retry_after="7"), 429, 7.0),
        (h(retry_after_ms="1e309", retry_after="7"), 429, 7.0),
        (h(retry_after_ms="99999999999999999999", retry_after="7"), 429, 7.0),
        # reset is a wait only when remaining is 0
        (h(x_ratelimit_remaining_requests="0", x_ratelimit_reset_requests="6s"), 429, 6.0),
        (h(x_ratelimit_remaining_requests="3", x_ratelimit_reset_requests="59s"), 429, None),
        (h(x_ratelimit_reset_requests="59s"), 429, None),
        (h(x_ratelimit_remaining_requests="0", x_ratelimit_reset_requests="1m30s", retry_after="4"), 429, 4.0),
        # a 5xx retries on the backoff whatever quota headers it carries; a 503 may still say when
        (h(x_ratelimit_remaining_requests="0", x_ratelimit_reset_requests="59s"), 500, None),
        (h(x_ratelimit_remaining_requests="0", x_ratelimit_reset_requests="59s"), 503, None),
        (h(retry_after="5"), 500, None),
        (h(retry_after="5"), 502, None),
        (h(retry_after="5"), 200, None),
        (h(retry_after="5"), None, None),
        (None, 429, None),
        (h(), 429, None),
    ],
)
def test_it_reads_the_wait_an_answer_asks_for(headers, status, wait):
    assert hints.wait_hint(headers, status=status, now=NOW) == (None if wait is None else pytest.approx(wait))


@pytest.mark.parametrize("value", BROKEN)
def test_a_broken_retry_after_counts_as_absent(value):
    assert hints.wait_hint(h(retry_after=value), status=429, now=NOW) is None
    assert hints.wait_hint(h(retry_after_ms=value), status=429, now=NOW) is None


@pytest.mark.parametrize("value", ["Sat, 28 Nov 2026 12:00:00", "Mon, 99 Foo 2026 99:99:99 GMT",
                                   "Fri, 31 Dec 9999 23:59:59 GMT", "Sun, 06 Nov 1994 08:49:37 +9999"])
def test_a_broken_or_distant_date_counts_as_absent(value):
    assert hints.wait_hint(h(retry_after=value), status=429, now=NOW) is None


@pytest.mark.parametrize("value", BROKEN + ["12", "1m30", "s5", "1x", "-5s", "nans", "infs", "1e3s"])
def test_a_broken_reset_counts_as_absent(value):
    assert hints.parse_duration(value) is None
    headers = h(x_ratelimit_remaining_requests="0", x_ratelimit_reset_requests=value)
    assert hints.wait_hint(headers, status=429, now=NOW) is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("12ms", 0.012), ("6s", 6), ("1m30s", 90), ("1m0.5s", 60.5), ("59.8s", 59.8), ("2h3m", 7380), ("0s", 0),
     ("24h", 86400)],
)
def test_it_parses_openai_reset_durations(text, seconds):
    assert hints.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (h(x_ratelimit_limit_requests="5", x_ratelimit_remaining_requests="4", x_ratelimit_reset_requests="12s"),
         Quota(limit=5, remaining=4, reset=12.0)),
        (h(x_ratelimit_limit_requests="5"), Quota(limit=5)),
        # each header stands or falls on its own
        (h(x_ratelimit_limit_requests="nan", x_ratelimit_remaining_requests="4", x_ratelimit_reset_requests="1s"),
         Quota(remaining=4, reset=1.0)),
        (h(x_ratelimit_limit_requests="5", x_ratelimit_remaining_requests="-1", x_ratelimit_reset_requests="inf"),
         Quota(limit=5)),
        (h(x_ratelimit_limit_requests="99999999999999999999"), Quota()),
        (h(x_ratelimit_limit_requests="0", x_ratelimit_remaining_requests="0"), Quota(remaining=0)),
        (h(x_ratelimit_limit_requests="5", x_ratelimit_remaining_requests="9"), Quota(limit=5)),  # contradiction
        (h(x_ratelimit_limit_requests="5.5", x_ratelimit_remaining_requests="1e3"), Quota()),
        (None, Quota()),
    ],
)
def test_it_reads_the_quota_from_every_answer(headers, expected):
    assert hints.quota(headers) == expected


def test_reset_is_a_wait_only_when_nothing_remains():
    assert Quota(limit=5, remaining=0, reset=9.0).exhausted_for == 9.0
    assert Quota(limit=5, remaining=1, reset=9.0).exhausted_for is None
    assert Quota(limit=5, remaining=None, reset=9.0).exhausted_for is None


@pytest.mark.parametrize("seconds", [float("nan"), float("inf"), -1.0, 86400.001, 1e309])
def test_bounded_refuses_what_is_not_a_wait(seconds):
    assert hints.bounded(seconds) is None


def test_no_value_of_any_length_raises():
    for value in ["9" * 5000, "1" + "0" * 400 + "ms", "\x00\x01", "1e-400", "0." + "0" * 300 + "1"]:
        headers = h(retry_after=value, retry_after_ms=value, x_ratelimit_limit_requests=value,
                    x_ratelimit_remaining_requests="0", x_ratelimit_reset_requests=value)
        assert hints.wait_hint(headers, status=429, now=NOW) is None
        assert hints.quota(headers) == Quota(remaining=0)
