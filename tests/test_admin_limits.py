"""Per-model rate limits in the admin: what an admin records is what the pacer keeps to."""
import pytest
from django.urls import reverse

from generation.quota import pacing
from generation.models import ModelRateLimit

pytestmark = pytest.mark.django_db

ADD = reverse("admin:generation_modelratelimit_add")
LIST = reverse("admin:generation_modelratelimit_changelist")
MODEL = "openai/gpt-image-2"


def test_an_admin_records_a_models_limit(admin_client):
    response = admin_client.post(ADD, {"model": f"  {MODEL} ", "requests_per_minute": "5", "_save": "Save"})

    assert response.status_code == 302
    assert list(ModelRateLimit.objects.values_list("model", "requests_per_minute")) == [(MODEL, 5)]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"model": "nonsense-model", "requests_per_minute": "5"}, "has no provider LiteLLM knows"),
        ({"model": MODEL, "requests_per_minute": "0"}, "greater than or equal to 1"),
        ({"model": MODEL, "requests_per_minute": "1000001"}, "less than or equal to 1000000"),
        ({"model": MODEL, "requests_per_minute": "1e3"}, "Enter a whole number"),
    ],
)
def test_it_refuses_a_limit_the_pacer_could_not_use(admin_client, fields, message):
    response = admin_client.post(ADD, {**fields, "_save": "Save"})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ModelRateLimit.objects.exists()


def test_the_list_shows_each_models_pacer_state_and_the_limit_bounds_a_day_long_pause(admin_client, pacer):
    ModelRateLimit.objects.create(model=MODEL, requests_per_minute=3)
    key = pacing.pacer_key(MODEL)
    pacer.store_time = lambda: 4102444800.0  # the store's clock: 2100-01-01 00:00:00 UTC
    pacer.acquire(key, deadline=pacer.timer() + 60, rpm=3)
    pacer.pause(key, until=pacer.timer() + 86400)  # a 429 that claimed a day

    page = admin_client.get(LIST).content.decode()

    cell = page[page.find("field-pacer_state"):][:200]
    # The operator's 3 a minute says the quota comes back within a minute: so does the model.
    assert "remaining 2; paused until 2100-01-01 00:01:00 UTC; last 429 2100-01-01 00:00:00 UTC" in cell, cell


def test_model_states_report_the_admin_limit_or_the_learned_one(pacer):
    ModelRateLimit.objects.create(model=MODEL, requests_per_minute=3)

    states = {s.model: s.state for s in pacing.model_states([MODEL, "openai/gpt-image-1", "offline/pixel-sprite"])}

    assert set(states) == {MODEL, "openai/gpt-image-1"}  # the offline model has no quota
    assert (states[MODEL].limit, states[MODEL].source, states[MODEL].remaining) == (3, "admin", 3)
    assert (states["openai/gpt-image-1"].limit, states["openai/gpt-image-1"].source) == (None, "")


def test_the_empty_list_says_what_to_enter_and_where_to_find_it(admin_client):
    page = admin_client.get(LIST).content.decode()

    assert 'id="generation-limits-hint"' in page
    assert "requests per minute your account" in page and "docs/RATE_LIMITS.md" in page


def test_the_form_says_what_each_field_takes(admin_client):
    page = admin_client.get(ADD).content.decode()

    assert "e.g. openai/gpt-image-2 or azure/my-deployment" in page
    assert "one image is one request" in page and "usage tier" in page


def test_the_rate_limits_guide_exists_where_the_admin_points():
    from pathlib import Path

    guide = (Path(__file__).resolve().parent.parent / "docs" / "RATE_LIMITS.md").read_text()

    assert "check your account's limits page" in guide.lower()
    assert "Azure OpenAI quotas and limits" in guide  # where the one quoted figure comes from
