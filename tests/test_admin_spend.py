"""Spend in the admin: per model and per day on the requests list (following its filters), per token."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.urls import reverse

from generation.models import ApiToken, GenerationAttempt, GenerationRequest

pytestmark = pytest.mark.django_db

REQUESTS = reverse("admin:generation_generationrequest_changelist")
TOKENS = reverse("admin:generation_apitoken_changelist")
DAY1 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
DAY2 = DAY1 + timedelta(days=1)
GPT, MINI, OFFLINE = "openai/gpt-image-2", "openai/gpt-image-1-mini", "offline/pixel-sprite"

# (request status, model used, token, [(model called, outcome, cost, when)])
FIXTURE = [
    ("succeeded", GPT, "a", [(GPT, "succeeded", "0.01000000", DAY1)]),
    ("succeeded", MINI, "a", [(GPT, "rate_limited", "0", DAY1), (MINI, "succeeded", "0.00200000", DAY1)]),
    ("succeeded", GPT, "b", [(GPT, "timeout", None, DAY2), (GPT, "succeeded", "0.03000000", DAY2)]),
    ("failed", GPT, "b", [(GPT, "rate_limited", "0", DAY2)]),
    ("succeeded", OFFLINE, "b", [(OFFLINE, "succeeded", "0", DAY2)]),
]


@pytest.fixture
def tokens(admin_user) -> dict[str, ApiToken]:
    return {name: ApiToken.objects.create_key(user=admin_user, name=f"plugin-{name}")[0] for name in ("a", "b", "idle")}


@pytest.fixture
def spend_rows(admin_user, tokens):
    for status, model_used, token, attempts in FIXTURE:
        costs = [Decimal(c) for _, _, c, _ in attempts if c is not None]
        row = GenerationRequest.objects.create(user=admin_user, token=tokens[token], prompt="p", style="pixel", size=8,
                                               status=status, model_used=model_used, attempts=len(attempts),
                                               cost_usd=sum(costs, Decimal(0)) if costs else None)
        GenerationRequest.objects.filter(pk=row.pk).update(created_at=attempts[0][3])
        GenerationAttempt.objects.bulk_create(
            GenerationAttempt(request=row, number=i, started_at=when, model=model, outcome=outcome, duration_ms=10,
                              cost_usd=None if cost is None else Decimal(cost))
            for i, (model, outcome, cost, when) in enumerate(attempts, start=1))


def spend_of(client, query: str = "") -> tuple[dict, str]:
    response = client.get(REQUESTS + query)
    assert response.status_code == 200
    return response.context["stats"], response.content.decode()


def test_it_shows_spend_per_model_called_and_per_day(admin_client, spend_rows):
    stats, html = spend_of(admin_client)

    assert stats["spend_usd"] == Decimal("0.042")
    by_model = {r["model"]: (r["calls"], r["unpriced"], r["cost"]) for r in stats["spend_per_model"]}
    assert by_model == {GPT: (5, 1, Decimal("0.04")), MINI: (1, 0, Decimal("0.002")), OFFLINE: (1, 0, Decimal(0))}
    assert [r["model"] for r in stats["spend_per_model"]] == [GPT, MINI, OFFLINE]  # dearest first
    by_day = [(r["day"].date().isoformat(), r["calls"], r["cost"]) for r in stats["spend_per_day"]]
    assert by_day == [("2026-11-21", 4, Decimal("0.03")), ("2026-11-20", 3, Decimal("0.012"))]  # latest first
    assert "Spend by model: $0.0420 in all" in html
    assert "<td>2026-11-21</td>" in html and "0.0300" in html


def test_it_follows_the_lists_filters(admin_client, spend_rows):
    stats, html = spend_of(admin_client, f"?model_used={MINI}")

    # The request that fell back to the mini model paid for both models' calls.
    assert stats["spend_usd"] == Decimal("0.002")
    assert {r["model"]: r["calls"] for r in stats["spend_per_model"]} == {GPT: 1, MINI: 1}
    assert [r["day"].date().isoformat() for r in stats["spend_per_day"]] == ["2026-11-20"]

    stats, _ = spend_of(admin_client, "?status__exact=failed")
    assert stats["spend_usd"] == Decimal(0) and stats["spend_per_model"][0]["calls"] == 1


def test_it_shows_spend_per_token(admin_client, spend_rows):
    html = admin_client.get(TOKENS).content.decode()

    assert "Spend (USD)" in html
    assert ">0.0120<" in html and ">0.0300<" in html  # plugin-a, plugin-b
    assert html.count('class="field-spend">–<') == 1  # the idle token: nothing spent, not 0


def test_it_sorts_tokens_by_spend(admin_client, spend_rows):
    from generation.admin.tokens import ApiTokenAdmin

    # `o` counts the changelist's columns from 0, and the actions' checkbox column comes first.
    column = ApiTokenAdmin.list_display.index("spend") + 1
    html = admin_client.get(f"{TOKENS}?o=-{column}").content.decode()  # dearest first

    assert html.index("plugin-b") < html.index("plugin-a")
    html = admin_client.get(f"{TOKENS}?o={column}").content.decode()  # cheapest first
    assert html.index("plugin-a") < html.index("plugin-b")


@pytest.mark.parametrize("requests", [10, 200])
def test_it_keeps_the_spend_queries_fixed_whatever_the_row_count(admin_client, admin_user, tokens, requests,
                                                                 django_assert_max_num_queries):
    for i in range(requests):
        row = GenerationRequest.objects.create(user=admin_user, token=tokens["a"], prompt="p", style="pixel", size=8,
                                               status="succeeded", model_used=GPT, cost_usd=Decimal("0.01"))
        GenerationAttempt.objects.create(request=row, number=1, started_at=DAY1 + timedelta(days=i % 40), model=GPT,
                                         outcome="succeeded", duration_ms=10, cost_usd=Decimal("0.01"))

    with django_assert_max_num_queries(12):
        stats, _ = spend_of(admin_client)
    with django_assert_max_num_queries(5):
        assert admin_client.get(TOKENS).status_code == 200

    assert stats["spend_usd"] == Decimal("0.01") * requests
    assert len(stats["spend_per_day"]) == min(requests, 31)
