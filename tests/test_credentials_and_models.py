"""Credentials and model strings: a missing or rejected key moves to the next model at once and is
named when no model is left; a model LiteLLM cannot use moves on too; attempt rows keep the
provider's message without secrets; bad model strings are caught at start-up and by `check`."""
import re
import subprocess
import sys

import pytest
from django.core.checks import Error, Warning
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from generation.checks import check_model_routing
from generation.models import GenerationAttempt, GenerationRequest, GenerationSettings
from generation.providers import classify, load_litellm
from generation.providers.edge import scrub
from tests.test_configuration import ROOT
from tests.test_resilience import names

pytestmark = pytest.mark.django_db
PRIMARY, OFFLINE = "openai/gpt-image-2", "offline/pixel-sprite"


def generate(api):
    return api.post("/v1/generate", {"prompt": "slime", "size": 16}, format="json")


def attempts() -> list[tuple[str, str, str]]:
    return list(GenerationAttempt.objects.order_by("number").values_list("model", "outcome", "message"))


@pytest.fixture
def no_key(settings, monkeypatch):
    settings.OPENAI_API_KEY = ""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # LiteLLM reads it by itself too


def test_a_missing_key_moves_to_the_next_model_at_once(api, upstream, timeline, configure, no_key, caplog):
    configure(model=PRIMARY, fallback_models=OFFLINE, max_retries=3)

    response = generate(api)

    assert response.status_code == 200
    assert (response.json()["model"], response.json()["fallback_used"]) == (OFFLINE, True)
    (model, outcome, message), second = attempts()
    assert (model, outcome) == (PRIMARY, "auth_failed")
    assert "Missing credentials" in message and len(message) <= 300
    assert second[:2] == (OFFLINE, "succeeded")
    assert timeline.sleeps == [] and upstream.calls == []  # no backoff, and nothing was sent without a key
    assert "fallback_used" in names(caplog)


def test_a_missing_key_with_no_model_left_is_503_naming_the_cause(api, upstream, timeline, configure, no_key):
    configure(model=PRIMARY, max_retries=3)

    response = generate(api)

    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "upstream_unavailable"
    assert f"{PRIMARY}: credentials missing or rejected" in error["message"]
    assert timeline.sleeps == [] and GenerationAttempt.objects.count() == 1
    assert GenerationRequest.objects.get().error_code == "upstream_unavailable"


def test_a_rejected_key_is_recorded_without_the_key(api, upstream, configure, settings):
    configure(model=PRIMARY, fallback_models=OFFLINE)
    upstream.unauthorized = {"gpt-image-2"}

    response = generate(api)

    assert response.status_code == 200
    (_, outcome, message), _ = attempts()
    assert outcome == "auth_failed"
    assert message.startswith("litellm.AuthenticationError") and "Incorrect API key provided: ***" in message
    assert settings.OPENAI_API_KEY not in message and "sk-" not in message


def test_an_unroutable_fallback_moves_on_to_the_next_model(api, upstream, configure):
    configure(model=PRIMARY, fallback_models=f"foo/bar, {OFFLINE}", max_retries=2)
    upstream.not_found = {"gpt-image-2"}

    response = generate(api)

    assert response.status_code == 200 and response.json()["model"] == OFFLINE
    assert [(m, o) for m, o, _ in attempts()] == [(PRIMARY, "model_not_found"), ("foo/bar", "model_unsupported"),
                                                  (OFFLINE, "succeeded")]


def test_parameters_litellm_refuses_are_this_models_problem():
    litellm = load_litellm()
    exc = litellm.UnsupportedParamsError(message="Setting `style` is not supported by openai", model="x",
                                         llm_provider="openai")

    assert classify(exc).outcome == "model_unsupported"


@pytest.mark.parametrize(("text", "expected"), [
    ("Incorrect API key provided: sk-proj-abc123XYZ. You can find", "Incorrect API key provided: ***. You can find"),
    ("Incorrect API key provided: sk-test********************1234.", "Incorrect API key provided: ***"),
    ("Authorization: Bearer abc.def-ghi failed", "Authorization: *** failed"),
    ("url?api_key=s3cr3t&x=1", "url?api_key=***&x=1"),
    ("token: abcdef", "token: ***"),
    ("nothing secret here", "nothing secret here"),
])
def test_scrub(text, expected):
    assert scrub(text).startswith(expected)


def test_scrub_removes_the_configured_key_whatever_it_looks_like(settings):
    settings.OPENAI_API_KEY = "custom-provider-key-123456"

    assert scrub("rejected custom-provider-key-123456 today") == "rejected *** today"


def test_check_reports_an_unroutable_environment_model_as_an_error(settings):
    settings.SPRITE_GENERATION_DEFAULTS = {**settings.SPRITE_GENERATION_DEFAULTS, "fallback_models": ("foo/bar",)}

    problems = check_model_routing(None)

    assert [(type(p), p.id) for p in problems] == [(Error, "generation.E001")]
    assert "SPRITE_LITELLM_FALLBACK_MODELS" in problems[0].msg and "foo/bar" in problems[0].msg
    with pytest.raises(SystemCheckError, match="generation.E001"):
        call_command("check")


def test_check_warns_about_an_unroutable_model_stored_in_the_database():
    GenerationSettings(model="nosuchprovider/model", fallback_models=f"{OFFLINE}, bad model").save()

    problems = check_model_routing(None)

    assert [(type(p), p.id) for p in problems] == [(Warning, "generation.W004")] * 2
    assert "nosuchprovider/model" in problems[0].msg and "'bad model'" in problems[1].msg


@pytest.mark.process
def test_gunicorns_app_refuses_to_load_with_an_unroutable_model():
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("SPRITE_")}
    env.update(DJANGO_SETTINGS_MODULE="sprite_backend.settings", DEBUG="true", SPRITE_LITELLM_MODEL="foo/bar")
    result = subprocess.run([sys.executable, "-c", "import sprite_backend.wsgi"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)

    assert result.returncode != 0
    assert "ImproperlyConfigured: SPRITE_LITELLM_MODEL: 'foo/bar' has no provider LiteLLM knows" in result.stderr


def test_the_admin_shows_each_attempts_message(admin_client, api, upstream, configure):
    configure(model=PRIMARY, fallback_models=OFFLINE)
    upstream.unauthorized = {"gpt-image-2"}
    row_id = generate(api).json()["id"]

    page = admin_client.get(f"/admin/generation/generationrequest/{row_id}/change/").content.decode()

    assert "Incorrect API key provided: ***" in page


def test_a_missing_key_is_recorded_as_not_sent_not_as_an_http_500(admin_client, api, upstream, configure, no_key):
    configure(model=PRIMARY, fallback_models=OFFLINE)
    row_id = generate(api).json()["id"]

    first = GenerationAttempt.objects.order_by("number").first()
    page = admin_client.get(f"/admin/generation/generationrequest/{row_id}/change/").content.decode()

    assert (first.outcome, first.http_status) == ("auth_failed", None)
    shown = [re.sub(r"<[^>]+>|\s", "", cell) for cell in re.findall(r'class="field-http">(.*?)</td>', page, re.S)]
    assert shown == ["notsent", "200"]


SETTINGS_PAGE = "/admin/generation/generationsettings/1/change/"


def test_the_admin_warns_that_no_key_is_set_for_a_configured_model(admin_client, configure, no_key):
    configure(model=PRIMARY, fallback_models=OFFLINE)

    page = admin_client.get(SETTINGS_PAGE).content.decode()

    assert "Credentials missing" in page
    assert f"no credentials are set for {PRIMARY}: set OPENAI_API_KEY" in page


def test_the_admin_says_nothing_of_keys_when_they_are_set(admin_client, configure):
    configure(model=PRIMARY, fallback_models=OFFLINE)

    assert "Credentials missing" not in admin_client.get(SETTINGS_PAGE).content.decode()


def test_check_warns_that_the_environments_model_has_no_key(settings):
    settings.OPENAI_API_KEY = ""
    settings.SPRITE_GENERATION_DEFAULTS = {**settings.SPRITE_GENERATION_DEFAULTS, "model": PRIMARY,
                                           "fallback_models": ("gemini/imagen-4.0-generate-001", OFFLINE)}

    from generation.checks import check_generation_defaults

    warnings = [p for p in check_generation_defaults(None) if p.id == "generation.W003"]

    assert [w.msg.split(":")[0] for w in warnings] == ["SPRITE_LITELLM_MODEL", "SPRITE_LITELLM_FALLBACK_MODELS"]
    assert "set OPENAI_API_KEY" in warnings[0].msg and "GEMINI_API_KEY" in warnings[1].msg
