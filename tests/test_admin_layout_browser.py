"""The admin on a 1280 px laptop screen: every table and card fits its column, and the
screenshots in docs/ (admin_requests.png, admin_request.png, admin_settings_1280.png,
admin_tokens.png, admin_rate_limits.png) are taken here, with SCREENSHOTS=docs.
"""
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from generation.models import ApiToken, GenerationAttempt, GenerationRequest, ModelRateLimit
from tests.test_admin_browser import PASSWORD, REQUESTS_PATH, SETTINGS_PATH, shots, superuser  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
WIDTH = 1280

# Each table, card or module whose box reaches past its parent's; and each card, or scrolling
# list of results, whose content is wider than its box (text run out of a card, columns scrolled away).
OVERFLOWING = """() => [...document.querySelectorAll(
      '#content table, #content .generation-card, #content .module, #content fieldset, #content .results')]
  .filter(el => el.offsetParent !== null)
  .filter(el => {
    const box = el.getBoundingClientRect(), parent = el.parentElement.getBoundingClientRect();
    const clipped = el.matches('.generation-card, .results') && el.scrollWidth > el.clientWidth + 1;
    return box.right > parent.right + 1 || clipped;
  })
  .map(el => `${el.tagName.toLowerCase()}#${el.id}.${el.className}: ${el.scrollWidth} px in ${el.clientWidth} px`)"""


@pytest.fixture
def laptop(request, browser, live_server, superuser):  # noqa: F811 (fixture)
    """A logged-in admin page at 1280 px (or the width a test asks for with `indirect`)."""
    width = getattr(request, "param", WIDTH)
    context = browser.new_context(viewport={"width": width, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    page.goto("/admin/login/")
    page.fill("#id_username", superuser.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    yield page
    context.close()


def an_hour_of_traffic(user: User) -> GenerationRequest:
    """An hour of requests, as a first day's use makes: retries, fallbacks, waits, failures, costs."""
    rng, now = random.Random(11), timezone.now()
    token = ApiToken.objects.create_key(user=user, name="editor-plugin")[0]
    ApiToken.objects.create_key(user=user, name="ci-bot")
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    ModelRateLimit.objects.create(model="openai/gpt-image-2", requests_per_minute=5)
    last = None
    for i in range(120):
        limited, fell_back = rng.random() < 0.15, rng.random() < 0.1
        retries = rng.randint(1, 3) if limited else int(rng.random() < 0.2)
        model = "offline/pixel-sprite" if fell_back else "openai/gpt-image-2"
        row = GenerationRequest.objects.create(
            user=user, token=token, prompt=f"a {rng.choice(['red', 'golden', 'ice'])} dragon with a very long tail "
            f"and wings, number {i}", style="pixel", size=64, status="failed" if limited else "succeeded",
            model_requested="openai/gpt-image-2", model_used=model, attempts=retries + 1 + fell_back,
            retries=retries, fallback_used=fell_back, wait_ms=retries * rng.randint(800, 30000),
            latency_ms=rng.randint(9000, 95000), error_code="rate_limit_exceeded" if limited else "",
            error_message="The provider's rate limits outlasted the wait budget." if limited else "",
            retry_after=36 if limited else None, cost_usd=None if limited else Decimal("0.00836"))
        when = now - timedelta(minutes=rng.random() * 60)
        GenerationRequest.objects.filter(pk=row.pk).update(created_at=when, finished_at=when)
        outcomes = ["rate_limited"] * retries + ([] if limited else ["succeeded"])
        GenerationAttempt.objects.bulk_create(
            GenerationAttempt(request=row, number=n, started_at=when, model="openai/gpt-image-2", outcome=outcome,
                              http_status={"rate_limited": 429, "succeeded": 200}[outcome], duration_ms=900,
                              hint_ms=20000 if outcome == "rate_limited" else None,
                              message="Rate limit reached for images per min: limit 5." if outcome != "succeeded"
                              else "", cost_usd=Decimal("0.00836") if outcome == "succeeded" else Decimal(0))
            for n, outcome in enumerate(outcomes, start=1))
        if retries and not limited:
            last = row
    return last


def fits(page, path: str) -> list[str]:
    page.goto(path)
    return page.evaluate(OVERFLOWING)


@pytest.mark.parametrize("laptop", [1400], indirect=True)
def test_every_admin_table_and_card_fits_its_column_at_1400_px_too(laptop, superuser):  # noqa: F811
    retried = an_hour_of_traffic(superuser)

    paths = [REQUESTS_PATH, f"{REQUESTS_PATH}{retried.pk}/change/", SETTINGS_PATH, "/admin/generation/apitoken/"]

    assert {path: fits(laptop, path) for path in paths} == dict.fromkeys(paths, [])


def test_every_admin_table_and_card_fits_its_column_at_1280_px(laptop, superuser, shots):  # noqa: F811
    retried = an_hour_of_traffic(superuser)
    pages = {
        "admin_requests.png": REQUESTS_PATH,
        "admin_request.png": f"{REQUESTS_PATH}{retried.pk}/change/",
        "admin_settings_1280.png": SETTINGS_PATH,
        "admin_tokens.png": "/admin/generation/apitoken/",
        "admin_rate_limits.png": "/admin/generation/modelratelimit/",
    }
    overflowing = {}
    for picture, path in pages.items():
        overflowing[path] = fits(laptop, path)
        if picture == "admin_requests.png":  # the list, below the statistics (admin_stats.png), first rows only
            top = laptop.locator("#changelist").bounding_box()["y"]
            laptop.screenshot(path=str(shots / picture), full_page=True, clip={"x": 0, "y": top, "width": WIDTH,
                                                                                "height": 760})
        else:
            laptop.screenshot(path=str(shots / picture), full_page=True)

    assert overflowing == dict.fromkeys(pages.values(), [])


def test_the_requests_list_shows_every_column_and_no_alarm_on_healthy_rows(laptop, superuser):  # noqa: F811
    an_hour_of_traffic(superuser)
    laptop.goto(REQUESTS_PATH)

    table = laptop.locator("#result_list")
    headers = [h.strip().lower() for h in table.locator("thead th").all_inner_texts()]
    right_edge = laptop.evaluate("() => document.querySelector('#changelist').getBoundingClientRect().right")
    cells = table.locator("tbody tr").first.locator("td, th")

    assert {"fallback", "wait", "latency", "error"} <= set(headers)
    assert all(box["x"] + box["width"] <= right_edge + 1 for box in (c.bounding_box() for c in cells.all()))
    assert table.locator("img[alt='False']").count() == 0  # no red cross for "no fallback"


def test_an_hour_of_data_is_charted_by_the_minute(laptop, superuser):  # noqa: F811
    an_hour_of_traffic(superuser)
    laptop.goto(REQUESTS_PATH)

    bars = laptop.locator(".generation-chart svg g")
    widths = {float(w) for w in laptop.locator(".generation-chart svg rect").evaluate_all(
        "rects => rects.map(r => r.getAttribute('width'))")}

    assert "Requests per minute" in laptop.locator(".generation-chart h2").inner_text()
    assert bars.count() >= 30
    assert max(widths) < 100  # of a 900-unit-wide chart: no single huge bar


def test_the_tokens_list_shows_last_use_spend_and_no_alarm_on_active_tokens(laptop, superuser):  # noqa: F811
    an_hour_of_traffic(superuser)
    laptop.goto("/admin/generation/apitoken/")

    headers = [h.strip().lower() for h in laptop.locator("#result_list thead th").all_inner_texts()]
    states = laptop.locator("#result_list td.field-state").all_inner_texts()

    assert {"last used at", "spend (usd)"} <= set(headers)
    assert states == ["active", "active"] and laptop.locator("#result_list img[alt='False']").count() == 0
