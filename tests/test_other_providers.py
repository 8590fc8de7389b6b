"""Azure OpenAI and Google's Imagen, through LiteLLM against local servers that answer as they do.

What the service reads from each (README "Providers and their quota signals"): the sprite from
each answer's shape, and each provider's word on its quota and on waiting as one `Signal`, on a
200 and on a 429. The generator's clock and the servers' clock are one fake timeline, so a 12 s
`retryDelay` is honoured in no time.
"""
import httpx
import pytest

from generation import providers
from generation.checks import check_generation_defaults
from generation.engine.generator import generator
from generation.models import GenerationAttempt
from generation.quota import pacing
from generation.providers.edge import scrub
from generation.providers.signals import Signal
from generation.styles import STYLES
from tests.calls import generate, settings_setter
from tests.upstream import FakeOpenAI
from tests.upstream_providers import FakeAzure, FakeGoogle

pytestmark = pytest.mark.django_db

AZURE, IMAGEN = "azure/sprite-deploy", "gemini/imagen-4.0-generate-001"
KEY, VERSION = "test-key-0123456789", "2025-04-01-preview"


@pytest.fixture
def azure(settings, timeline):
    with FakeAzure(clock=timeline.clock, api_key=KEY) as server:
        settings.AZURE_API_BASE, settings.AZURE_API_KEY, settings.AZURE_API_VERSION = server.api_base, KEY, VERSION
        yield server


@pytest.fixture
def google(settings, timeline):
    with FakeGoogle(clock=timeline.clock, api_key=KEY) as server:
        settings.GEMINI_API_BASE, settings.GEMINI_API_KEY = server.gemini_base, KEY
        yield server


@pytest.fixture
def setup(configure):
    return settings_setter(configure, max_retries=2, retry_delay=1.0, max_wait=30.0, timeout=10.0)


def call(model: str) -> providers.Reply:
    request = providers.request_for(model, prompt="green slime", size=16, seed=None, transparent=True,
                                    style=STYLES["pixel"])
    return providers.call_model(request, timeout=10.0)


def attempts(generation_id: str) -> list[tuple[str, int | None, int | None]]:
    rows = GenerationAttempt.objects.filter(request_id=generation_id).order_by("number")
    return list(rows.values_list("outcome", "http_status", "hint_ms"))


def spend_azure_window(server: FakeAzure) -> None:
    """Another client of the same deployment uses the window's quota, unseen by our pacer."""
    httpx.post(f"{server.api_base}/openai/deployments/sprite-deploy/images/generations?api-version={VERSION}",
               headers={"api-key": KEY}, json={"prompt": "elsewhere"})


def spend_google_window(server: FakeGoogle) -> None:
    httpx.post(f"{server.gemini_base}/models/imagen-4.0-generate-001:predict", headers={"x-goog-api-key": KEY},
               json={"instances": [{"prompt": "elsewhere"}]})


# -- what the adapters send --------------------------------------------------------------

def test_it_sends_azure_its_deployment_version_and_key(settings):
    settings.AZURE_API_BASE, settings.AZURE_API_KEY, settings.AZURE_API_VERSION = "https://x.example", KEY, VERSION
    request = providers.request_for("azure/gpt-image-1", prompt="slime", size=16, seed=None, transparent=True,
                                    style=STYLES["pixel"])
    assert request.params == {**STYLES["pixel"].model_params, "background": "transparent",
                              "api_base": "https://x.example", "api_key": KEY, "api_version": VERSION}


def test_it_sends_gemini_its_base_and_key_and_a_size_litellm_maps_to_an_aspect_ratio(settings):
    settings.GEMINI_API_BASE, settings.GEMINI_API_KEY = "https://g.example/v1beta", KEY
    request = providers.request_for(IMAGEN, prompt="slime", size=16, seed=None, transparent=True, style=STYLES["pixel"])
    assert request.params == {"size": "1024x1024", "api_base": "https://g.example/v1beta", "api_key": KEY}


def test_imagen_without_a_key_is_a_credentials_failure_not_a_connection_error(settings):
    settings.GEMINI_API_BASE = "http://127.0.0.1:9/v1beta"  # nothing listens there: no call is made

    reply = call(IMAGEN)

    assert (reply.outcome, reply.signal) == ("auth_failed", Signal("google"))


# -- Azure ---------------------------------------------------------------------------------

def test_it_gets_a_sprite_from_an_azure_deployment(api, azure, setup):
    setup(model=AZURE)

    response = generate(api)

    assert response.status_code == 200, response.json()
    assert response.json()["images"][0]["width"] == 16
    assert [(c.path, c.status, c.key) for c in azure.calls] == [
        ("/openai/deployments/sprite-deploy/images/generations", 200, KEY)]


def test_azure_signals_limit_and_remaining_on_a_200_without_a_reset(azure):
    azure.limit = 5

    reply = call(AZURE)

    assert reply.ok
    assert reply.signal == Signal("azure", limit=5, remaining=4)


def test_azure_signals_retry_after_ms_on_a_429(azure, timeline):
    azure.limit, azure.window = 1, 20.0
    spend_azure_window(azure)
    timeline.now += 0.25

    reply = call(AZURE)

    assert (reply.outcome, reply.http_status) == ("rate_limited", 429)
    # retry-after-ms (19750), not the whole seconds of retry-after (20)
    assert reply.signal == Signal("azure", limit=1, remaining=0, wait=19.75, throttled=True)


def test_the_generator_waits_out_azures_retry_after_ms_and_succeeds(api, azure, timeline, setup):
    # The pacer, told limit 1 and remaining 0 with no reset, books the next slot a minute after
    # the 429: a budget that covers it (docs/PROVIDERS.md: the window learned from refills replaces it).
    setup(model=AZURE, max_wait=90.0)
    azure.limit, azure.window = 1, 20.0
    spend_azure_window(azure)

    response = generate(api)

    assert response.status_code == 200, response.json()
    assert attempts(response.json()["id"]) == [("rate_limited", 429, 20000), ("succeeded", 200, None)]
    assert timeline.sleeps[0] == pytest.approx(20.0)  # retry-after-ms, not the 1 s backoff
    assert azure.statuses() == [200, 429, 200]


# -- Google --------------------------------------------------------------------------------

def test_it_gets_a_sprite_from_imagen(api, google, setup):
    setup(model=IMAGEN)

    response = generate(api)

    assert response.status_code == 200, response.json()
    assert response.json()["images"][0]["width"] == 16
    assert [(c.path, c.status, c.key) for c in google.calls] == [
        ("/v1beta/models/imagen-4.0-generate-001:predict", 200, KEY)]


def test_google_signals_nothing_on_a_200(google):
    reply = call(IMAGEN)

    assert reply.ok
    assert reply.signal == Signal("google")


def test_google_signals_retry_info_from_the_error_body_on_a_429(google, timeline):
    google.limit, google.window = 1, 12.0
    spend_google_window(google)
    timeline.now += 0.5

    reply = call(IMAGEN)

    assert (reply.outcome, reply.http_status) == ("rate_limited", 429)
    assert reply.signal == Signal("google", wait=11.5, throttled=True)


def test_a_google_429_without_retry_info_looks_like_a_daily_quota(google):
    google.daily = True

    reply = call(IMAGEN)

    assert (reply.outcome, reply.http_status, reply.code) == ("quota_exhausted", 429, "daily_quota")
    assert reply.signal == Signal("google", throttled=True, daily_quota=True)


def test_a_daily_quota_moves_to_the_fallback_at_once(api, google, timeline, setup):
    setup(model=IMAGEN, fallback_models="offline/pixel-sprite")
    google.daily = True

    response = generate(api)

    assert response.status_code == 200, response.json()
    assert (response.json()["fallback_used"], response.json()["model"]) == (True, "offline/pixel-sprite")
    assert attempts(response.json()["id"]) == [("quota_exhausted", 429, None), ("succeeded", 200, None)]
    assert timeline.sleeps == []  # no wait brings a daily quota back


def test_a_daily_quota_pauses_the_model_until_the_caps_next_probe_and_the_admin_says_so(
        api, admin_client, google, timeline, setup, pacer):
    setup(model=IMAGEN, fallback_models="offline/pixel-sprite")
    google.daily = True
    generate(api)
    google.daily = False  # even when it is back, nothing asks before the next probe

    second = generate(api)

    assert second.json()["model"] == "offline/pixel-sprite"
    assert attempts(second.json()["id"]) == [("succeeded", 200, None)]  # Imagen not called again
    assert google.statuses() == [429]
    state = pacer.state(pacing.pacer_key(IMAGEN))
    assert state.paused_until == pytest.approx(state.last_429 + 3600.0, abs=5.0)
    panel = admin_client.get("/admin/generation/generationsettings/1/change/").content.decode()
    assert "google: 429s&#x27; retry delay; limit and window from their spacing" in panel
    assert "looks like a daily quota" in panel


def test_the_admin_shows_what_the_pacer_learned_from_googles_429s(api, admin_client, google, timeline, setup, pacer):
    setup(model=IMAGEN)
    google.limit, google.window = 2, 12.0
    for _ in range(3):
        generate(api)

    assert google.statuses() == [200, 200, 429, 200]
    panel = admin_client.get("/admin/generation/generationsettings/1/change/").content.decode()
    assert '<td class="generation-pacer-learned">2 per 12' in panel


def test_the_generator_waits_out_googles_retry_delay_and_succeeds(api, google, timeline, setup):
    setup(model=IMAGEN)
    google.limit, google.window = 1, 12.0
    spend_google_window(google)

    response = generate(api)

    assert response.status_code == 200, response.json()
    assert attempts(response.json()["id"]) == [("rate_limited", 429, 12000), ("succeeded", 200, None)]
    assert timeline.sleeps[0] >= 12.0
    assert google.statuses() == [200, 429, 200]


# -- a provider that says nothing ------------------------------------------------------------

def test_a_provider_without_hints_signals_only_that_it_refused(settings, timeline):
    with FakeOpenAI(limit=1, window=20.0, retry_after=False, ratelimit_headers=False, clock=timeline.clock) as server:
        settings.OPENAI_BASE_URL = server.base_url
        first, second = call("openai/gpt-image-2"), call("openai/gpt-image-2")

    assert (first.ok, first.signal) == (True, Signal("openai"))
    assert (second.outcome, second.signal) == ("rate_limited", Signal("openai", throttled=True))


def test_the_generator_backs_off_when_no_hint_comes(api, settings, timeline, setup, monkeypatch):
    setup(model="openai/gpt-image-2")
    monkeypatch.setattr(generator, "rand", lambda: 1.0)  # the longest backoff: 1 s, then 2 s
    with FakeOpenAI(limit=1, window=2.0, retry_after=False, ratelimit_headers=False, clock=timeline.clock) as server:
        settings.OPENAI_BASE_URL = server.base_url
        httpx.post(f"{server.base_url}/images/generations", json={"model": "gpt-image-2", "prompt": "elsewhere"})

        response = generate(api)

    assert response.status_code == 200, response.json()
    assert attempts(response.json()["id"]) == [("rate_limited", 429, None), ("rate_limited", 429, None),
                                               ("succeeded", 200, None)]
    assert timeline.sleeps == [1.0, 2.0]


# -- a fallback chain across providers ---------------------------------------------------------

def test_a_chain_across_providers_moves_on_by_each_ones_own_signal(api, azure, google, timeline, setup):
    """Azure asks for a minute (beyond the 30 s budget), Google's daily quota is spent: the
    offline model answers, with no wait and one call to each provider."""
    setup(model=AZURE, fallback_models=f"{IMAGEN},offline/pixel-sprite")
    azure.limit, azure.window = 1, 60.0
    spend_azure_window(azure)
    google.daily = True

    response = generate(api)

    assert response.status_code == 200, response.json()
    assert (response.json()["model"], response.json()["fallback_used"]) == ("offline/pixel-sprite", True)
    assert attempts(response.json()["id"]) == [("rate_limited", 429, 60000), ("quota_exhausted", 429, None),
                                               ("succeeded", 200, None)]
    assert timeline.sleeps == []
    assert (azure.statuses(), google.statuses()) == ([200, 429], [429])


# -- configuration -----------------------------------------------------------------------------

@pytest.mark.parametrize(("model", "missing"), [
    (AZURE, "AZURE_API_BASE and AZURE_API_KEY"),
    (IMAGEN, "GEMINI_API_KEY"),
])
def test_check_warns_when_a_configured_providers_credentials_are_empty(settings, model, missing):
    settings.SPRITE_GENERATION_DEFAULTS = {**settings.SPRITE_GENERATION_DEFAULTS, "model": "offline/pixel-sprite",
                                           "fallback_models": (model,)}

    problems = check_generation_defaults(None)

    assert [(p.id, p.msg) for p in problems] == [
        ("generation.W003", f"SPRITE_LITELLM_FALLBACK_MODELS: no credentials are set for {model}: set {missing}.")]


def test_check_is_quiet_when_the_credentials_are_set(settings):
    settings.AZURE_API_BASE, settings.AZURE_API_KEY, settings.GEMINI_API_KEY = "https://x.example", KEY, KEY
    settings.SPRITE_GENERATION_DEFAULTS = {**settings.SPRITE_GENERATION_DEFAULTS, "model": AZURE,
                                           "fallback_models": (IMAGEN,)}

    assert check_generation_defaults(None) == []


def test_azure_and_gemini_keys_are_scrubbed_from_messages(settings):
    settings.AZURE_API_KEY, settings.GEMINI_API_KEY = "azure0secret0value", "gemini0secret0value"

    assert scrub("denied azure0secret0value and gemini0secret0value") == "denied *** and ***"
