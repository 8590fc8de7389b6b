"""Stock clients against a live server: the official openai SDK, LiteLLM, and docs/examples/.

The server is pytest-django's live_server (a real socket on a free port, in this process,
so the generator's sleep and the upstream's clock stay on the fake timeline).
"""
import base64
import importlib.util
import io
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import openai
import pytest
from PIL import Image

from generation.api.throttle import LocalWindows, TokenRateThrottle
from generation.models import GenerationAttempt, GenerationRequest

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


@pytest.fixture(autouse=True)
def short_database_sessions(monkeypatch):
    """Server threads close their database session after each request. A keep-alive client that
    stays open (LiteLLM caches its HTTP clients) would otherwise hold one past the test, and the
    test database could not be dropped at the end of the run."""
    from django.db import connections

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


@pytest.fixture
def base_url(live_server) -> str:
    return f"{live_server.url}/v1"


@pytest.fixture
def make_sdk(base_url, token_key):
    """OpenAI clients on the live server, closed after the test."""
    made: list[openai.OpenAI] = []

    def make(api_key: str = token_key, **options) -> openai.OpenAI:
        made.append(openai.OpenAI(base_url=base_url, api_key=api_key, **options))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture
def sdk(make_sdk) -> openai.OpenAI:
    return make_sdk(max_retries=0)


@pytest.fixture
def sdk_sleeps(monkeypatch) -> list[float]:
    """What the SDK sleeps between its own retries, recorded instead of waited (its module's clock only)."""
    sleeps: list[float] = []
    fake_time = types.SimpleNamespace(**{name: getattr(time, name) for name in dir(time) if not name.startswith("_")})
    fake_time.sleep = sleeps.append
    monkeypatch.setattr(openai._base_client, "time", fake_time)
    return sleeps


def png(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def test_it_generates_a_sprite_for_the_official_sdk(sdk, user):
    result = sdk.images.generate(model="retro", prompt="a red dragon", size="32x32", response_format="b64_json",
                                 extra_body={"seed": 3})

    assert png(result.data[0].b64_json).size == (32, 32)
    row = GenerationRequest.objects.get()
    assert (row.user, row.style, row.status, row.options["seed"]) == (user, "retro", "succeeded", 3)
    assert result.model_extra["id"] == str(row.id)
    assert [m.id for m in sdk.models.list()] == ["pixel", "retro", "icon", "detailed"]


def test_it_gives_the_sdk_a_bad_request_error_naming_the_field(sdk):
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.images.generate(prompt="a red dragon", size="64x32")

    assert (raised.value.status_code, raised.value.code, raised.value.param) == (400, "invalid_request", "size")
    assert GenerationRequest.objects.count() == 0


def test_it_gives_the_sdk_an_authentication_error_for_a_bad_token(make_sdk):
    client = make_sdk("not-a-token", max_retries=0)

    with pytest.raises(openai.AuthenticationError) as raised:
        client.images.generate(prompt="a red dragon")

    assert raised.value.code == "unauthorized"


def test_the_sdk_waits_our_retry_after_when_the_budget_runs_out(make_sdk, upstream, configure, sdk_sleeps):
    configure(model="openai/gpt-image-2")
    upstream.limit = 0  # every call refused for the window: retry-after 60
    client = make_sdk(max_retries=1)

    with pytest.raises(openai.RateLimitError) as raised:
        client.images.generate(prompt="a red dragon", extra_body={"max_wait": 0})

    headers = raised.value.response.headers
    assert (headers["retry-after"], headers["retry-after-ms"]) == ("60", "60000")
    assert raised.value.code == "rate_limit_exceeded"
    # The SDK slept exactly our hint once, then tried again: two requests. Only the first reached the
    # upstream: the SDK's sleep moves no clock of ours, so the second still found the model paused by
    # the first 429 and was refused by the pacer without a call.
    assert sdk_sleeps == [60.0]
    assert GenerationRequest.objects.filter(error_code="rate_limit_exceeded").count() == 2
    assert len(upstream.calls) == GenerationAttempt.objects.count() == 1


def test_the_sdk_does_not_retry_what_our_loop_already_retried(make_sdk, upstream, configure, sdk_sleeps):
    configure(model="openai/gpt-image-2", max_retries=1, retry_delay=0.1)
    upstream.fail_first = 10
    client = make_sdk()  # the SDK's default: 2 retries

    with pytest.raises(openai.InternalServerError) as raised:
        client.images.generate(prompt="a red dragon")

    assert (raised.value.status_code, raised.value.code) == (502, "upstream_error")
    assert raised.value.response.headers["x-should-retry"] == "false"
    assert sdk_sleeps == [] and GenerationRequest.objects.count() == 1 and len(upstream.calls) == 2


def test_it_serves_litellms_image_generation(base_url, token_key):
    from generation.providers.edge import load_litellm

    litellm = load_litellm()
    result = litellm.image_generation(model="openai/icon", prompt="a sword", size="48x48", api_base=base_url,
                                      api_key=token_key, extra_body={"colors": 6}, max_retries=0)

    assert png(result.data[0].b64_json).size == (48, 48)
    row = GenerationRequest.objects.get()
    assert (row.style, row.size, row.options["colors"]) == ("icon", 48, 6)


@pytest.mark.parametrize("example", ["openai_sdk.py", "litellm_client.py", "poll_async.py"])
@pytest.mark.process
def test_the_documented_example_runs(example, live_server, token_key, settings, tmp_path):
    settings.REDIS_URL = ""  # no worker here: async requests run before their 202
    out = tmp_path / "sprite.png"
    env = {**os.environ, "SPRITE_BASE_URL": live_server.url, "SPRITE_TOKEN": token_key}

    done = subprocess.run([sys.executable, str(EXAMPLES / example), str(out)], env=env, capture_output=True,
                          text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    assert Image.open(out).format == "PNG"
    assert GenerationRequest.objects.get().status == "succeeded"


class Clock:
    def __init__(self):
        self.now = time.time()
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_the_poller_waits_out_a_429_by_its_retry_after(live_server, token_key, settings, monkeypatch):
    spec = importlib.util.spec_from_file_location("poll_async", EXAMPLES / "poll_async.py")
    poller = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(poller)
    clock = Clock()
    # No Redis: the throttle counts in this process, its windows on our clock.
    settings.REDIS_URL, settings.SPRITE_THROTTLE_RATE = "", "1/min"
    monkeypatch.setattr(TokenRateThrottle, "local", LocalWindows(clock=lambda: clock.now))
    status, _, _ = poller.call("GET", f"{live_server.url}/v1/models", token_key)  # the token's one request
    assert status == 200

    done = poller.generate(live_server.url, token_key, {"prompt": "a coin", "size": 16}, sleep=clock.sleep,
                           clock=lambda: clock.now)

    # The first submit got 429 `throttled` with Retry-After: 60; the poller waited it out and resubmitted.
    assert done["status"] == "succeeded" and done["images"][0]["width"] == 16
    assert clock.sleeps == [60.0]


def test_the_sdk_pin_docs_clients_names_is_the_one_in_requirements_dev():
    root = Path(__file__).resolve().parent.parent
    pin = f"openai=={openai.__version__}"

    assert pin in (root / "requirements-dev.txt").read_text().split()
    assert f"`requirements-dev.txt` (`{pin}`" in " ".join((root / "docs" / "clients.md").read_text().split())
