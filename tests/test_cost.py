"""What each sprite cost: priced by LiteLLM's cost map from the local upstream's real answers."""
from decimal import Decimal

import pytest

from generation.models import GenerationAttempt, GenerationRequest
from generation.providers import load_litellm
from generation.providers.pricing import total, usd

pytestmark = pytest.mark.django_db
GPT = "openai/gpt-image-2"


def map_price(model: str, *, input_tokens: int, output_tokens: int) -> Decimal:
    """What LiteLLM's cost map says a gpt-image answer with this usage costs."""
    prices = load_litellm().model_cost[model.split("/", 1)[1]]
    return usd(input_tokens * prices["input_cost_per_token"] + output_tokens * prices["output_cost_per_image_token"])


def test_it_prices_a_gpt_image_answer_by_its_usage_on_the_attempt_and_the_request(api, upstream, configure):
    configure(model=GPT)

    response = api.post("/v1/generate", {"prompt": "green slime"}, format="json")

    assert response.status_code == 200, response.content
    words = len(upstream.calls[0].prompt.split())  # the upstream counts one input token per word
    expected = map_price(GPT, input_tokens=words, output_tokens=272)
    assert expected > 0
    attempt, row = GenerationAttempt.objects.get(), GenerationRequest.objects.get()
    assert attempt.cost_usd == row.cost_usd == expected
    assert response.json()["cost_usd"] == float(expected)


def test_it_sums_the_attempts_and_prices_a_refusal_at_zero(api, upstream, configure):
    configure(model=GPT, retry_delay=0.1)
    upstream.fail_first = 1  # a 500 first: refused, not billed

    body = api.post("/v1/generate", {"prompt": "red dragon"}, format="json").json()

    costs = list(GenerationAttempt.objects.order_by("number").values_list("outcome", "cost_usd"))
    paid = map_price(GPT, input_tokens=len(upstream.calls[1].prompt.split()), output_tokens=272)
    assert costs == [("server_error", Decimal(0)), ("succeeded", paid)]
    assert GenerationRequest.objects.get().cost_usd == paid and body["cost_usd"] == float(paid)


def test_it_counts_a_billed_answer_without_an_image(api, upstream, configure):
    configure(model=GPT, max_retries=0)
    upstream.empty_data = True

    response = api.post("/v1/generate", {"prompt": "coin"}, format="json")

    assert response.status_code == 502
    attempt = GenerationAttempt.objects.get()
    assert attempt.outcome == "malformed" and attempt.cost_usd > 0
    assert GenerationRequest.objects.get().cost_usd == attempt.cost_usd


def test_it_records_zero_for_the_offline_model(api):
    body = api.post("/v1/generate", {"prompt": "coin"}, format="json").json()

    assert GenerationAttempt.objects.get().cost_usd == GenerationRequest.objects.get().cost_usd == Decimal(0)
    assert body["cost_usd"] == 0.0


@pytest.mark.parametrize("model, usage", [("openai/sprite-model-not-in-the-map", True), (GPT, False)])
def test_it_leaves_an_answer_it_cannot_price_unknown_not_zero(api, upstream, configure, model, usage):
    configure(model=model)
    upstream.usage = usage

    body = api.post("/v1/generate", {"prompt": "coin"}, format="json").json()

    assert body["status"] == "succeeded" and body["cost_usd"] is None
    assert GenerationAttempt.objects.get().cost_usd is None and GenerationRequest.objects.get().cost_usd is None


def test_it_leaves_a_call_with_no_answer_unknown(api, configure):
    configure(model=GPT, max_retries=0)  # the test settings' base URL is a closed port

    assert api.post("/v1/generate", {"prompt": "coin"}, format="json").status_code == 502

    attempt = GenerationAttempt.objects.get()
    assert attempt.outcome == "connection_error" and attempt.cost_usd is None
    assert GenerationRequest.objects.get().cost_usd is None


def test_it_answers_cost_on_the_compatible_endpoint_and_in_metrics(api, staff_api, upstream, configure):
    configure(model=GPT)
    first = api.post("/v1/images/generations", {"prompt": "coin"}, format="json").json()
    second = api.post("/v1/images/generations", {"prompt": "a red potion"}, format="json").json()

    metrics = staff_api.get("/v1/metrics").json()

    assert first["cost_usd"] > 0 and second["cost_usd"] > first["cost_usd"]  # more words, more input tokens
    assert metrics["total_cost_usd"] == pytest.approx(first["cost_usd"] + second["cost_usd"])
    assert metrics["unpriced_requests"] == 0


def test_metrics_count_what_could_not_be_priced(staff_api, user):
    GenerationRequest.objects.create(user=user, prompt="a", style="pixel", size=8, status="succeeded",
                                     cost_usd=Decimal("0.25"))
    GenerationRequest.objects.create(user=user, prompt="b", style="pixel", size=8, status="failed")
    GenerationRequest.objects.create(user=user, prompt="c", style="pixel", size=8, status="queued")

    metrics = staff_api.get("/v1/metrics").json()

    assert (metrics["total_cost_usd"], metrics["unpriced_requests"]) == (0.25, 1)


@pytest.mark.parametrize("value, expected", [
    (0.008175, Decimal("0.00817500")), (0, Decimal(0)), (5e-06, Decimal("0.00000500")), ("0.5", Decimal("0.5")),
    (None, None), (-1, None), (float("nan"), None), (float("inf"), None), ("abc", None),
])
def test_usd_keeps_finite_non_negative_costs_only(value, expected):
    assert usd(value) == expected


@pytest.mark.parametrize("costs, expected", [
    ([], None), ([None, None], None), ([None, Decimal("0.1")], Decimal("0.1")),
    ([Decimal(0), Decimal("0.1"), Decimal("0.2")], Decimal("0.3")),
])
def test_total_sums_the_known_costs(costs, expected):
    assert total(costs) == expected



def test_it_leaves_an_unreadable_answer_unknown(api, upstream, configure):
    configure(model=GPT, max_retries=0)
    upstream.malformed_first = 1  # a 200 whose JSON breaks off: the provider may have billed it

    assert api.post("/v1/generate", {"prompt": "coin"}, format="json").status_code == 502

    assert GenerationAttempt.objects.get().cost_usd is None and GenerationRequest.objects.get().cost_usd is None


def test_the_admin_shows_the_cost_of_a_request_and_of_each_attempt(admin_client, api, upstream, configure):
    import re

    configure(model=GPT, retry_delay=0.1)
    upstream.fail_first = 1  # a 500, priced at 0, then a priced answer
    row_id = api.post("/v1/generate", {"prompt": "green slime"}, format="json").json()["id"]
    row = GenerationRequest.objects.get()

    page = admin_client.get(f"/admin/generation/generationrequest/{row_id}/change/").content.decode()

    cells = [re.sub(r"<[^>]+>|\s", "", c) for c in re.findall(r'class="field-cost">(.*?)</td>', page, re.S)]
    assert cells == ["0.0000", f"{row.cost_usd:.4f}"]  # the attempts, in order
    on_the_request = re.search(r'field-cost">.*?<label>Cost \(USD\):</label>\s*<div class="readonly">([^<]*)<', page, re.S)
    assert on_the_request.group(1) == f"{row.cost_usd:.4f}"
