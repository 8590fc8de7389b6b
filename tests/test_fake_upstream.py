"""What LiteLLM 1.110.2 raises for each answer of the fake OpenAI image upstream.

LiteLLM really calls ``tests.upstream.FakeOpenAI`` over HTTP here, the way the
product does.  No database and no Django are needed::

    LITELLM_LOCAL_MODEL_COST_MAP=True .venv/bin/python -m pytest tests/test_fake_upstream.py -q -p no:django
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import time
import urllib.error
import urllib.request

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before importing litellm

import httpx  # noqa: E402
import litellm  # noqa: E402
import pytest  # noqa: E402

from tests.upstream import FakeOpenAI, format_duration, make_png  # noqa: E402

MODEL = "openai/gpt-image-2"
UPSTREAM_MODEL = "gpt-image-2"  # LiteLLM strips the provider prefix
DURATION = re.compile(r"^(\d+h)?(\d+m)?(\d+(\.\d+)?s)?$|^\d+ms$")


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setattr(litellm, "suppress_debug_info", True)
    with FakeOpenAI() as fake:
        yield fake


def generate(server: FakeOpenAI, prompt: str = "a red fox", *, timeout: float = 5, **kwargs):
    return litellm.image_generation(
        model=MODEL,
        prompt=prompt,
        api_base=server.base_url,
        api_key="sk-test",
        max_retries=0,
        timeout=timeout,
        drop_params=True,
        **kwargs,
    )


def raw_post(server: FakeOpenAI, path: str, body: dict | None = None, method: str = "POST"):
    url = server.base_url.removesuffix("/v1") + path
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def error_of(exc: Exception) -> dict:
    """The upstream's ``error`` object, read from ``exc.response`` (an httpx.Response)."""
    assert isinstance(exc.response, httpx.Response)
    return exc.response.json()["error"]


# ---------------------------------------------------------------- success


def test_it_returns_b64_png_and_ratelimit_headers_on_success(server):
    from PIL import Image

    server.limit = 5
    resp = generate(server)

    assert len(resp.data) == 1
    png = base64.b64decode(resp.data[0].b64_json)
    image = Image.open(io.BytesIO(png))
    assert (image.format, image.size, image.mode) == ("PNG", (64, 64), "RGBA")

    headers = resp._hidden_params["additional_headers"]
    assert headers["x-ratelimit-limit-requests"] == "5"
    assert headers["x-ratelimit-remaining-requests"] == "4"
    assert DURATION.match(headers["x-ratelimit-reset-requests"])
    # LiteLLM also copies every upstream header with an "llm_provider-" prefix
    assert headers["llm_provider-x-ratelimit-remaining-requests"] == "4"
    assert resp.usage.total_tokens > 0

    assert len(server.calls) == 1
    call = server.calls[0]
    assert (call.model, call.prompt, call.status, call.code) == (UPSTREAM_MODEL, "a red fox", 200, None)
    assert server.calls_for(UPSTREAM_MODEL) == [call]
    assert server.calls_for("other") == []


def test_it_sends_a_1024_png_when_image_size_is_1024(server):
    from PIL import Image

    server.image_size = 1024
    resp = generate(server)

    image = Image.open(io.BytesIO(base64.b64decode(resp.data[0].b64_json)))
    assert image.size == (1024, 1024)


def test_it_returns_empty_data_without_error(server):
    server.empty_data = True
    resp = generate(server)

    assert resp.data == []
    assert len(server.calls) == 1
    assert server.calls[0].status == 200


# ---------------------------------------------------------------- 429


def test_it_raises_rate_limit_error_with_retry_headers_when_limit_reached(server):
    server.limit = 1
    generate(server)

    with pytest.raises(litellm.RateLimitError) as info:
        generate(server)

    exc = info.value
    assert exc.status_code == 429
    error = error_of(exc)
    assert error["code"] == "rate_limit_exceeded"
    assert error["type"] == "requests"
    assert error["param"] is None
    assert error["message"].startswith(
        "Rate limit reached for gpt-image-2 in organization org-test on requests per min (RPM): "
        "Limit 1, Used 1, Requested 1. Please try again in "
    )
    headers = exc.litellm_response_headers
    assert isinstance(headers, httpx.Headers)
    assert 58 <= int(headers["retry-after"]) <= 60
    assert 58_000 <= int(headers["retry-after-ms"]) <= 60_000
    assert DURATION.match(headers["x-ratelimit-reset-requests"])
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-limit-requests"] == "1"
    # the same headers are on the httpx response
    assert exc.response.headers["retry-after"] == headers["retry-after"]

    assert [c.status for c in server.calls] == [200, 429]
    assert server.calls[1].code == "rate_limit_exceeded"


def test_it_omits_retry_after_and_ratelimit_headers_when_disabled(server):
    server.limit = 0
    server.retry_after = False
    server.ratelimit_headers = False

    with pytest.raises(litellm.RateLimitError) as info:
        generate(server)

    headers = info.value.litellm_response_headers
    assert error_of(info.value)["code"] == "rate_limit_exceeded"
    for name in ("retry-after", "retry-after-ms", "x-ratelimit-reset-requests", "x-ratelimit-limit-requests"):
        assert name not in headers


def test_it_raises_rate_limit_error_for_insufficient_quota(server):
    server.insufficient_quota = {UPSTREAM_MODEL}

    with pytest.raises(litellm.RateLimitError) as info:
        generate(server)

    error = error_of(info.value)
    assert error["code"] == "insufficient_quota"
    assert error["type"] == "insufficient_quota"
    assert error["message"].startswith(
        "You exceeded your current quota, please check your plan and billing details."
    )
    # billing errors carry no retry hint
    assert "retry-after" not in info.value.litellm_response_headers
    assert len(server.calls) == 1
    assert server.calls[0].code == "insufficient_quota"


def test_it_reopens_the_window_after_window_seconds_with_injected_clock(server):
    now = [1000.0]
    server.clock = lambda: now[0]
    server.limit = 2
    server.window = 10.0

    generate(server)
    now[0] += 4.0
    generate(server)
    with pytest.raises(litellm.RateLimitError) as info:
        generate(server)
    headers = info.value.litellm_response_headers
    assert headers["x-ratelimit-reset-requests"] == "6s"
    assert headers["retry-after"] == "6"
    assert headers["retry-after-ms"] == "6000"
    assert "Please try again in 6s." in error_of(info.value)["message"]

    now[0] += 6.0  # window opened at 1000.0 and lasts 10 s
    resp = generate(server)
    assert resp._hidden_params["additional_headers"]["x-ratelimit-remaining-requests"] == "1"
    assert [c.status for c in server.calls] == [200, 200, 429, 200]
    assert [c.at for c in server.calls] == [1000.0, 1004.0, 1004.0, 1010.0]


def test_it_reopens_the_window_after_a_real_wait(server):
    server.limit = 1
    server.window = 0.3

    generate(server)
    with pytest.raises(litellm.RateLimitError) as info:
        generate(server)
    assert info.value.litellm_response_headers["retry-after"] == "1"  # ceil of < 0.3 s
    assert int(info.value.litellm_response_headers["retry-after-ms"]) <= 300
    assert info.value.litellm_response_headers["x-ratelimit-reset-requests"].endswith("ms")

    time.sleep(0.35)
    generate(server)
    assert [c.status for c in server.calls] == [200, 429, 200]


def test_it_forgets_calls_and_window_on_reset(server):
    server.limit = 1
    generate(server)
    with pytest.raises(litellm.RateLimitError):
        generate(server)

    server.reset()

    assert server.calls == []
    generate(server)
    assert [c.status for c in server.calls] == [200]


# ---------------------------------------------------------------- 4xx


def test_it_raises_not_found_for_unknown_model(server):
    server.not_found = {UPSTREAM_MODEL}

    with pytest.raises(litellm.NotFoundError) as info:
        generate(server)

    error = error_of(info.value)
    assert error["code"] == "model_not_found"
    assert error["type"] == "invalid_request_error"
    assert error["message"] == "The model `gpt-image-2` does not exist or you do not have access to it."
    assert info.value.status_code == 404
    assert len(server.calls) == 1


def test_it_raises_authentication_error_for_invalid_key(server):
    server.unauthorized = {UPSTREAM_MODEL}

    with pytest.raises(litellm.AuthenticationError) as info:
        generate(server)

    assert error_of(info.value)["code"] == "invalid_api_key"
    assert info.value.status_code == 401
    assert len(server.calls) == 1


def test_it_raises_plain_bad_request_not_content_policy_error_for_policy_violation(server):
    server.policy_word = "forbidden"

    with pytest.raises(litellm.BadRequestError) as info:
        generate(server, "a FORBIDDEN picture")

    exc = info.value
    error = error_of(exc)
    assert error["code"] == "content_policy_violation"
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("Your request was rejected as a result of our safety system.")
    # Finding: LiteLLM 1.110.2 with openai 3.x does NOT map this to its
    # ContentPolicyViolationError (its string check sees only the message, not
    # the code).  Read the code from exc.response.json() instead.
    assert not isinstance(exc, litellm.ContentPolicyViolationError)
    assert exc.status_code == 400
    assert server.calls[0].code == "content_policy_violation"
    assert len(server.calls) == 1


def test_it_raises_bad_request_for_invalid_value(server):
    server.bad_request_word = "broken"

    with pytest.raises(litellm.BadRequestError) as info:
        generate(server, "a broken prompt")

    error = error_of(info.value)
    assert error["code"] == "invalid_value"
    assert error["type"] == "invalid_request_error"
    assert not isinstance(info.value, litellm.ContentPolicyViolationError)
    assert len(server.calls) == 1


# ---------------------------------------------------------------- 5xx


def test_it_raises_internal_server_error_for_500(server):
    server.fail_first = 1

    with pytest.raises(litellm.InternalServerError) as info:
        generate(server)

    error = error_of(info.value)
    assert (error["type"], error["code"]) == ("server_error", None)
    assert info.value.status_code == 500
    assert len(server.calls) == 1
    assert generate(server).data  # only the first request failed


def test_it_raises_service_unavailable_for_503(server):
    server.fail_first = 1
    server.error_status = 503

    with pytest.raises(litellm.ServiceUnavailableError) as info:
        generate(server)

    assert error_of(info.value)["type"] == "server_error"
    assert info.value.status_code == 503
    assert len(server.calls) == 1


def test_it_raises_bad_gateway_for_502(server):
    server.fail_first = 1
    server.error_status = 502

    with pytest.raises(litellm.BadGatewayError):
        generate(server)
    assert len(server.calls) == 1


def test_it_raises_timeout_when_latency_exceeds_timeout(server):
    server.latency = 2.0

    started = time.monotonic()
    with pytest.raises(litellm.Timeout) as info:
        generate(server, timeout=0.5)

    assert time.monotonic() - started < 1.8
    assert info.value.status_code == 408
    assert getattr(info.value, "response", None) is None  # no upstream answer to read
    assert len(server.calls) == 1  # recorded on arrival, before the sleep


def test_it_raises_internal_server_error_for_malformed_json_200(server):
    server.malformed_first = 1

    with pytest.raises(litellm.InternalServerError) as info:
        generate(server)

    exc = info.value
    # LiteLLM reports a synthetic 500: the real 200 status and headers are lost
    assert exc.status_code == 500
    assert exc.response.status_code == 500
    assert exc.litellm_response_headers is None
    assert "Expecting value" in str(exc)
    assert [c.status for c in server.calls] == [200]
    assert generate(server).data  # only the first success was malformed


# ---------------------------------------------------------------- call count


@pytest.mark.parametrize(
    ("settings", "raised"),
    [
        ({"limit": 0}, litellm.RateLimitError),
        ({"insufficient_quota": {UPSTREAM_MODEL}}, litellm.RateLimitError),
        ({"fail_first": 10}, litellm.InternalServerError),
        ({"fail_first": 10, "error_status": 503}, litellm.ServiceUnavailableError),
        ({"malformed_first": 10}, litellm.InternalServerError),
    ],
    ids=["rate_limit", "insufficient_quota", "500", "503", "malformed"],
)
def test_it_sends_exactly_one_request_per_call_with_max_retries_zero(server, settings, raised):
    # With max_retries > 0 the openai SDK inside LiteLLM retries 429 (both
    # kinds, honouring retry-after-ms), 5xx and timeouts by itself.
    for name, value in settings.items():
        setattr(server, name, value)

    for expected in (1, 2, 3):
        with pytest.raises(raised):
            generate(server)
        assert len(server.calls) == expected


# ---------------------------------------------------------------- env


def test_it_honours_OPENAI_BASE_URL_when_api_base_is_not_passed(server, monkeypatch):
    # OPENAI_API_BASE is NOT honoured by litellm.image_generation (it goes to
    # api.openai.com), so it is not tested here: that would need the network.
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setattr(litellm, "api_base", None)

    resp = litellm.image_generation(
        model=MODEL,
        prompt="from the environment",
        api_key="sk-test-env-only",  # distinct key: avoid LiteLLM's cached clients
        max_retries=0,
        timeout=5,
        drop_params=True,
    )

    assert resp.data
    assert [c.prompt for c in server.calls] == ["from the environment"]


# ---------------------------------------------------------------- the fake itself


def test_it_answers_404_json_to_other_paths_and_methods(server):
    status, _, body = raw_post(server, "/v1/chat/completions", {"model": "x"})
    assert status == 404
    assert set(json.loads(body)["error"]) == {"message", "type", "param", "code"}

    status, _, body = raw_post(server, "/v1/images/generations", method="GET")
    assert status == 404
    assert json.loads(body)["error"]["type"] == "invalid_request_error"
    assert server.calls == []


def test_it_fails_the_same_requests_for_the_same_seed():
    def statuses(seed):
        with FakeOpenAI(error_rate=0.5, seed=seed) as fake:
            return [raw_post(fake, "/v1/images/generations", {"model": "m", "prompt": "p"})[0] for _ in range(12)]

    first = statuses(7)
    assert first == statuses(7)
    assert set(first) == {200, 500}


def test_it_formats_durations_like_openai():
    assert format_duration(0) == "0s"
    assert format_duration(0.12) == "120ms"
    assert format_duration(6) == "6s"
    assert format_duration(59.8) == "59.8s"
    assert format_duration(62) == "1m2s"
    assert format_duration(90.5) == "1m30.5s"
    assert format_duration(3600) == "1h0m0s"
    assert make_png(8).startswith(b"\x89PNG\r\n\x1a\n")
