"""The settings page in a real browser: live figures, a preset click, and its effect on the next API call.

Headless Chromium from Debian's package, driven by Playwright against pytest-django's
live server. Screenshots go to docs/ when SCREENSHOTS=docs is set (to refresh the
committed ones), else to a temporary folder, so a test run leaves the tree clean.
"""
import json
import os
import random
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from generation.models import ApiToken, GenerationRequest
from tests.upstream import FakeOpenAI

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture
def shots(tmp_path) -> Path:
    return DOCS if os.environ.get("SCREENSHOTS") == "docs" else tmp_path
SETTINGS_PATH = "/admin/generation/generationsettings/1/change/"
REQUESTS_PATH = "/admin/generation/generationrequest/"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def superuser(transactional_db) -> User:
    return User.objects.create_superuser("root", "root@example.com", PASSWORD)


@pytest.fixture
def page(browser, live_server, superuser):
    """A page logged in to the admin through its login form."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=live_server.url)
    page = context.new_page()
    # The admin runs under a Content-Security-Policy; anything it blocks is reported here.
    blocked = []
    page.on("console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text
            else None)
    page.goto(f"/admin/login/?next={SETTINGS_PATH}")
    page.fill("#id_username", superuser.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"**{SETTINGS_PATH}")
    yield page
    context.close()
    assert blocked == [], "the admin's Content-Security-Policy blocked part of the page"


def figure(page, name: str) -> str:
    return page.text_content(f'#generation-worst-case [data-figure="{name}"]')


def test_it_updates_the_worst_case_wait_as_the_admin_types(page):
    assert figure(page, "per-model") == "7 s"  # the environment's 3 retries from 1 s
    page.fill("#id_max_retries", "5")
    assert figure(page, "per-model") == "31 s"  # blank delay: the environment's 1 s
    page.fill("#id_retry_delay", "2")
    assert figure(page, "per-model") == "62 s"
    assert figure(page, "total") == "30 s"  # capped by the environment's max wait
    page.fill("#id_max_wait", "600")
    assert figure(page, "total") == "62 s"
    page.fill("#id_max_retries", "")
    assert figure(page, "per-model") == "14 s"  # back to 3 retries, now from 2 s
    page.fill("#id_timeout", "50")
    page.fill("#id_total_timeout", "120")
    assert figure(page, "calls") == "4"
    assert figure(page, "longest-uncapped") == "214 s"  # 4 calls of 50 s and 14 s of backoff
    assert figure(page, "longest") == "120 s"
    page.fill("#id_retry_delay", "0.25")
    assert figure(page, "per-model") == "1.75 s"  # the server's formatter, to the character
    page.select_option("#id_enabled", "false")
    assert (figure(page, "per-model"), figure(page, "calls")) == ("0 s", "1")  # disabled: no retries


def test_it_applies_the_balanced_preset_to_the_next_api_request(page, live_server, superuser, settings, shots,
                                                                 timeline):
    # `timeline`: the generator's waits and the pacer's clock move a fake clock instead of sleeping.
    with FakeOpenAI(limit=0, retry_after=False, ratelimit_headers=False) as upstream:  # every call: 429
        settings.OPENAI_BASE_URL = upstream.base_url
        page.fill("#id_model", "openai/gpt-image-2")
        page.fill("#id_max_wait", "600")  # room for every retry: the budget is not under test here
        page.click('button[name="_preset"][value="balanced"]')
        page.wait_for_selector("text=Applied the Balanced preset.")
        assert page.input_value("#id_max_retries") == "5"
        assert page.input_value("#id_retry_delay") == "2.0"
        assert figure(page, "total") == "62 s"
        page.screenshot(path=str(shots / "admin_settings.png"), full_page=True)

        _, key = ApiToken.objects.create_key(user=superuser, name="browser test")
        status, body = generate(live_server.url, key)

    assert (status, body["error"]["code"]) == (429, "rate_limit_exceeded")
    assert len(upstream.calls) == 1 + 5
    assert GenerationRequest.objects.get(pk=body["request_id"]).retries == 5


def generate(base_url: str, key: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{base_url}/v1/generate", data=json.dumps({"prompt": "a red fox"}).encode(), method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def varied_requests(user: User, count: int = 400) -> None:
    """A day and a half of traffic with a rate-limited afternoon, for the statistics page."""
    rng, now = random.Random(7), timezone.now()
    rows, ages = [], []
    for i in range(count):
        hours_ago = rng.random() * 36
        ages.append(timedelta(hours=hours_ago))
        limited = 10 < hours_ago < 16 and rng.random() < 0.6
        model = rng.choices(["openai/gpt-image-2", "offline/pixel-sprite", "openai/gpt-image-1.5"], [6, 3, 1])[0]
        retries = rng.randint(2, 5) if limited else min(int(rng.expovariate(2)), 3)
        rows.append(GenerationRequest(
            user=user, prompt=f"sprite {i}", style="pixel", size=64,
            status="failed" if limited else "succeeded", model_used=model, attempts=retries + 1, retries=retries,
            fallback_used=model == "offline/pixel-sprite" and rng.random() < 0.5,
            wait_ms=int(sum(rng.random() * 1000 * 2**r for r in range(retries))),
            latency_ms=int(rng.lognormvariate(7.3, 0.5)) + retries * 800,
            error_code=rng.choice(["rate_limit_exceeded"] * 4 + ["upstream_timeout"]) if limited else ""))
    made = GenerationRequest.objects.bulk_create(rows)
    for row, age in zip(made, ages):  # created_at is set on insert: move each row back in time
        GenerationRequest.objects.filter(pk=row.pk).update(created_at=now - age)


def test_it_charts_the_requests_on_the_statistics_page(page, superuser, shots):
    varied_requests(superuser)
    page.goto(REQUESTS_PATH)
    assert page.locator("#generation-stats .generation-card .value").first.inner_text() == "400"
    assert page.locator("svg rect.succeeded").count() > 20
    assert page.locator("svg rect.failed").count() > 0
    page.evaluate("window.scrollTo(0, 0)")
    # The first screen only: below it come the 100 rows of the list, which the picture is not about.
    page.screenshot(path=str(shots / "admin_stats.png"))
