"""Hostile strings on every admin page: shown as text, never run; and a policy that would stop them anyway."""
import re
from datetime import datetime, timezone

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from generation.models import ApiToken, GenerationAttempt, GenerationRequest, GenerationSettings

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
IMAGE = '"><img src=x onerror=alert(2)>'
HOSTILE_MODEL = f"openai/{SCRIPT}"
SETTINGS_URL = reverse("admin:generation_generationsettings_change", args=[1])


@pytest.fixture
def hostile(admin_client, admin_user) -> dict[str, str]:
    """Every string an attacker could get stored, through the paths that store it."""
    # Through the settings form, as a staff user with the settings permission could (the XSS).
    saved = admin_client.post(SETTINGS_URL, {
        "enabled": "unknown", "model": HOSTILE_MODEL, "fallback_models": f"offline/{IMAGE.replace(' ', '')}",
        "max_retries": "", "retry_delay": "", "max_wait": "", "timeout": "", "total_timeout": "", "_save": "Save"})
    assert saved.status_code == 302, "the form refused the model string; store it directly instead"
    assert GenerationSettings.load().model == HOSTILE_MODEL
    user = User.objects.create_user(f"plugin{SCRIPT}")
    token, _ = ApiToken.objects.create_key(user=user, name=f"token {SCRIPT}")
    row = GenerationRequest.objects.create(
        user=user, token=token, prompt=f"a {SCRIPT} {IMAGE} fox", style="pixel", size=64, status="failed",
        model_requested=HOSTILE_MODEL, model_used=HOSTILE_MODEL, error_code=f"x{SCRIPT}",
        error_message=f"Provider said: {SCRIPT} {IMAGE}", idempotency_key=SCRIPT,
        options={"seed": SCRIPT, "timeout": IMAGE}, attempts=1, latency_ms=5)
    GenerationAttempt.objects.create(request=row, number=1, started_at=datetime(2026, 11, 1, tzinfo=timezone.utc),
                                     model=HOSTILE_MODEL, outcome="bad_request", http_status=400,
                                     error_code=f"e{SCRIPT}", duration_ms=3)
    return {
        "settings": SETTINGS_URL,
        "settings history": reverse("admin:generation_generationsettings_history", args=[1]),
        "requests list": reverse("admin:generation_generationrequest_changelist"),
        "requests filtered by model": reverse("admin:generation_generationrequest_changelist")
        + f"?model_used={HOSTILE_MODEL}",
        "request detail": reverse("admin:generation_generationrequest_change", args=[row.pk]),
        "tokens list": reverse("admin:generation_apitoken_changelist"),
        "token detail": reverse("admin:generation_apitoken_change", args=[token.pk]),
        "index": reverse("admin:index"),
    }


PAGES = ["settings", "settings history", "requests list", "requests filtered by model", "request detail",
         "tokens list", "token detail", "index"]


@pytest.mark.parametrize("page", PAGES)
def test_it_shows_hostile_strings_as_text_on_every_admin_page(admin_client, hostile, page):
    response = admin_client.get(hostile[page])
    html = response.content.decode()

    assert response.status_code == 200
    assert "<script>alert" not in html
    assert "onerror=alert" not in html.replace("onerror=alert(2)&gt;", "")  # only as escaped text
    assert "<img src=x" not in html


@pytest.mark.parametrize("page", ["settings", "requests list", "request detail", "tokens list", "token detail"])
def test_the_hostile_strings_are_on_the_page_escaped(admin_client, hostile, page):
    html = admin_client.get(hostile[page]).content.decode()

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize("page", PAGES)
def test_every_admin_page_carries_a_policy_without_inline_script(admin_client, hostile, page):
    response = admin_client.get(hostile[page])
    policy = dict(d.strip().split(" ", 1) for d in response["Content-Security-Policy"].split(";") if d.strip())

    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'self'" and policy["object-src"] == "'none'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    # And the pages need none: every script is a file, or JSON data the browser does not run.
    for tag in re.findall(r"<script\b[^>]*>", response.content.decode()):
        assert "src=" in tag or 'type="application/json"' in tag, tag


def test_the_login_page_carries_the_policy_too(client):
    assert "script-src 'self'" in client.get(reverse("admin:login"))["Content-Security-Policy"]


def test_the_api_carries_no_admin_policy(client):
    assert "Content-Security-Policy" not in client.get("/v1/styles")
    assert "Content-Security-Policy" not in client.get("/healthz")
