"""Each provider's answer read into one Signal, hostile answers included: none fails a request.

OpenAI's header rules are tested in tests/test_openai_signals.py;
here: which reader each provider gets, and what Azure, Google, Replicate and the rest say.
"""
import json
from datetime import datetime, timezone

import httpx
import pytest

from generation.providers import signals
from generation.providers.signals import MAX_MESSAGE, Answer, Signal

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)


def h(**values) -> httpx.Headers:
    return httpx.Headers({k.replace("_", "-"): v for k, v in values.items()})


def read(provider: str, status: int | None, headers=None, message: str = "") -> Signal:
    return signals.read(provider, Answer(status, headers, message), now=NOW)


def google_error(*details: dict, status: str = "RESOURCE_EXHAUSTED") -> str:
    """LiteLLM's message for a Gemini 429: its prefix, then Google's error body as JSON."""
    body = {"error": {"code": 429, "message": "You exceeded your current quota.", "status": status,
                      "details": list(details)}}
    return f"litellm.RateLimitError: litellm.RateLimitError: GeminiException - {json.dumps(body)}"


def retry_info(delay: str) -> dict:
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}


def quota_failure(quota_id: str) -> dict:
    return {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaId": quota_id}]}


PER_MINUTE, PER_DAY = quota_failure("GenerateRequestsPerMinutePerProjectPerModel"), \
    quota_failure("GenerateRequestsPerDayPerProjectPerModel")


@pytest.mark.parametrize(("provider", "source"), [
    ("openai", "openai"), ("azure", "azure"), ("gemini", "google"), ("vertex_ai", "google"),
    ("replicate", "replicate"), ("bedrock", "http"), ("fal_ai", "http"), ("", "http"),
])
def test_it_reads_each_provider_with_its_own_adapter(provider, source):
    assert read(provider, 200).source == source


@pytest.mark.parametrize(("status", "headers", "message", "expected"), [
    # every answer: limit and remaining, never a reset
    (200, h(x_ratelimit_limit_requests="6", x_ratelimit_remaining_requests="5"), "",
     Signal("azure", limit=6, remaining=5)),
    (200, h(x_ratelimit_limit_requests="6", x_ratelimit_remaining_requests="5", x_ratelimit_reset_requests="9s"), "",
     Signal("azure", limit=6, remaining=5)),
    # a 429: retry-after-ms first, then retry-after, then its text
    (429, h(retry_after_ms="1500", retry_after="2", x_ratelimit_remaining_requests="0"), "",
     Signal("azure", remaining=0, wait=1.5, throttled=True)),
    (429, h(retry_after_ms="nan", retry_after="2"), "", Signal("azure", wait=2.0, throttled=True)),
    (429, h(), "exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after 6 seconds.",
     Signal("azure", wait=6.0, throttled=True)),
    (429, h(), "Please retry after 999999999 seconds.", Signal("azure", throttled=True)),
    # the text is a wait only on a 429
    (500, h(), "Please retry after 6 seconds.", Signal("azure")),
    # hostile: a remaining above the limit, a zero limit
    (200, h(x_ratelimit_limit_requests="6", x_ratelimit_remaining_requests="7"), "", Signal("azure", limit=6)),
    (200, h(x_ratelimit_limit_requests="0", x_ratelimit_remaining_requests="0"), "", Signal("azure", remaining=0)),
])
def test_azure_says_limit_and_remaining_and_waits_in_milliseconds(status, headers, message, expected):
    assert read("azure", status, headers, message) == expected


@pytest.mark.parametrize(("message", "expected"), [
    (google_error(PER_MINUTE, retry_info("12s")), Signal("google", wait=12.0, throttled=True)),
    (google_error(retry_info("1.5s")), Signal("google", wait=1.5, throttled=True)),
    (google_error(retry_info("0.000500s")), Signal("google", wait=0.0005, throttled=True)),
    # the body as a Python repr, or escaped once inside a string
    ("GeminiException - {'error': {'details': [{'@type': 'type.googleapis.com/google.rpc.RetryInfo', "
     "'retryDelay': '38s'}]}}", Signal("google", wait=38.0, throttled=True)),
    ('VertexAIException - "{\\"error\\": {\\"details\\": [{\\"@type\\": \\"type.googleapis.com/google.rpc.RetryInfo\\", '
     '\\"retryDelay\\": \\"7s\\"}]}}"', Signal("google", wait=7.0, throttled=True)),
    # no RetryInfo, or a per-day quota: a daily quota (its own RetryInfo is still reported)
    (google_error(PER_MINUTE), Signal("google", throttled=True, daily_quota=True)),
    (google_error(PER_DAY, retry_info("20s")), Signal("google", wait=20.0, throttled=True, daily_quota=True)),
    # hostile: beyond a day, not a number, not seconds, negative
    (google_error(retry_info("86401s")), Signal("google", throttled=True, daily_quota=True)),
    (google_error(retry_info("1e9s")), Signal("google", throttled=True, daily_quota=True)),
    (google_error(retry_info("12m")), Signal("google", throttled=True, daily_quota=True)),
    (google_error(retry_info("-5s")), Signal("google", throttled=True, daily_quota=True)),
    (google_error(retry_info("nans")), Signal("google", throttled=True, daily_quota=True)),
    # a 429 that is no Google error at all (a proxy's, say): throttled, nothing more claimed
    ("Too Many Requests", Signal("google", throttled=True)),
    ("", Signal("google", throttled=True)),
])
def test_google_says_when_through_retry_info_in_the_error_body(message, expected):
    assert read("gemini", 429, h(), message) == expected
    assert read("vertex_ai", 429, h(), message) == expected


def test_a_google_retry_delay_past_the_searched_length_is_absent():
    message = google_error(retry_info("12s"))
    padded = message.replace("You exceeded", "x" * MAX_MESSAGE + "You exceeded")

    assert read("gemini", 429, h(), message).wait == 12.0
    assert read("gemini", 429, h(), padded).wait is None


def test_google_honours_retry_after_when_a_proxy_sends_it_without_retry_info():
    assert read("gemini", 429, h(retry_after="9"), "Too Many Requests") == Signal("google", wait=9.0, throttled=True)


def test_google_reads_no_wait_from_an_answer_that_is_no_429():
    assert read("gemini", 200, h(), google_error(retry_info("12s"))) == Signal("google")
    assert read("gemini", 500, h(), google_error(retry_info("12s"))) == Signal("google")


@pytest.mark.parametrize("message", [
    "retryDelay" * 5000,
    '"retryDelay": "' + "1" * 20000 + 's"',
    '"retryDelay": "' + "1." * 10000 + 's"',
    ("RESOURCE_EXHAUSTED " + "retryDelay\\\"" * 3000),
    "\x00\udcff" * 5000,
])
def test_hostile_google_messages_yield_no_wait(message):
    assert read("gemini", 429, h(), message).wait is None


@pytest.mark.parametrize(("message", "wait"), [
    ("Request was throttled. Your rate limit resets in ~30s.", 30.0),
    ("Your rate limit resets in ~2.5s.", 2.5),
    ("resets in 12 s", 12.0),
    ("resets in ~999999999s", None),
    ("resets soon", None),
])
def test_replicate_says_when_in_its_error_text(message, wait):
    assert read("replicate", 429, h(), message) == Signal("replicate", wait=wait, throttled=True)


def test_replicate_prefers_retry_after_to_its_text():
    assert read("replicate", 429, h(retry_after="4"), "resets in ~30s").wait == 4.0


def test_bedrock_throttling_says_nothing_but_that_it_refused():
    message = "litellm.RateLimitError: BedrockException - {\"message\":\"Too many requests, please wait before trying again.\"}"
    assert read("bedrock", 429, h(), message) == Signal("http", throttled=True)


def test_any_other_provider_still_gets_http_retry_after_and_openai_style_quota_headers():
    headers = h(retry_after="3", x_ratelimit_limit_requests="10", x_ratelimit_remaining_requests="0",
                x_ratelimit_reset_requests="20s")
    assert read("together_ai", 429, headers) == Signal("http", limit=10, remaining=0, reset=20.0, wait=3.0,
                                                       throttled=True)


@pytest.mark.parametrize(("provider", "source"), [("openai", "openai"), ("azure", "azure"), ("gemini", "google"),
                                              ("replicate", "replicate"), ("bedrock", "http")])
def test_no_answer_signals_nothing(provider, source):
    assert read(provider, None, None, "Connection error.") == Signal(source)
