"""Spend on the statistics page in a real browser, and its screenshot (docs/admin_spend.png)."""
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from generation.models import ApiToken, GenerationAttempt, GenerationRequest
from tests.test_admin_browser import REQUESTS_PATH, page, shots, superuser  # noqa: F401 (fixtures; `browser` is in conftest)

pytestmark = pytest.mark.browser
# (model, USD per priced call, weight): what gpt-image answers cost with 40 prompt tokens in LiteLLM's map.
MODELS = [("openai/gpt-image-2", Decimal("0.00836"), 6), ("openai/gpt-image-1-mini", Decimal("0.00220"), 2),
          ("offline/pixel-sprite", Decimal(0), 2)]


def priced_traffic(user: User, days: int = 6, per_day: int = 40) -> None:
    # The minute before today began: each day's ten hours of traffic fall on one date whatever the
    # hour the suite runs (from `now`, a run after midnight spread them over seven dates).
    rng = random.Random(3)
    now = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(minutes=1)
    tokens = [ApiToken.objects.create_key(user=user, name=name)[0] for name in ("editor-plugin", "ci-bot")]
    for day in range(days):
        for i in range(per_day):
            when = now - timedelta(days=day, minutes=rng.random() * 600)
            model, price, _ = rng.choices(MODELS, [w for *_, w in MODELS])[0]
            outcomes = ["timeout"] * (rng.random() < 0.05) + ["rate_limited"] * (rng.random() < 0.3) + ["succeeded"]
            row = GenerationRequest.objects.create(
                user=user, token=rng.choice(tokens), prompt=f"sprite {day}-{i}", style="pixel", size=64,
                status="succeeded", model_used=model, attempts=len(outcomes), retries=len(outcomes) - 1,
                cost_usd=price)
            GenerationRequest.objects.filter(pk=row.pk).update(created_at=when)
            GenerationAttempt.objects.bulk_create(
                GenerationAttempt(request=row, number=n, started_at=when, model=model, outcome=outcome, duration_ms=900,
                                  cost_usd={"succeeded": price, "rate_limited": Decimal(0)}.get(outcome))
                for n, outcome in enumerate(outcomes, start=1))


def test_it_shows_spend_per_model_and_day(page, superuser, shots):  # noqa: F811 (fixtures)
    priced_traffic(superuser)

    page.goto(REQUESTS_PATH)

    spend = page.locator("#generation-spend")
    caption = spend.locator("#generation-spend-per-model caption").text_content().strip()
    assert caption.startswith("Spend by model: $") and not caption.endswith("$0.0000 in all")
    assert spend.locator("#generation-spend-per-day tbody tr").count() == 6
    assert spend.locator("#generation-spend-per-model tbody tr").first.locator("td").first.inner_text() == \
        "openai/gpt-image-2"
    spend.screenshot(path=str(shots / "admin_spend.png"))
