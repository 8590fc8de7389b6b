"""The pacer's state where operators look: the settings page and Prometheus' /metrics."""
import pytest
from django.test import Client
from django.urls import reverse

from generation.models import ModelRateLimit
from tests.test_prometheus_and_json_logs import samples

pytestmark = pytest.mark.django_db

MODEL = "openai/gpt-image-2"
SETTINGS_PAGE = reverse("admin:generation_generationsettings_change", args=[1])


@pytest.fixture
def learned(api, upstream, configure):
    """One real call through the local upstream, whose headers tell the pacer a quota of 5 a minute."""
    upstream.limit, upstream.window = 5, 60
    configure(model=MODEL)
    assert api.post("/v1/generate", {"prompt": "coin", "size": 16}, format="json").status_code == 200


def pacer_panel(client) -> str:
    page = client.get(SETTINGS_PAGE).content.decode()
    start = page.index('id="generation-pacer"')
    return page[start:page.index("</div>", start)]


def test_the_settings_page_shows_the_limit_the_pacer_learned(admin_client, learned):
    panel = pacer_panel(admin_client)

    assert f"<th scope=\"row\">{MODEL}</th>" in panel
    assert "(learned)" in panel and "<td>5 per" in panel
    assert "<td>4</td>" in panel  # remaining after our one call


def test_the_settings_page_prefers_the_admins_limit(admin_client, learned):
    ModelRateLimit.objects.create(model=MODEL, requests_per_minute=3)

    assert "<td>3 per 60 s (admin)</td><td>2</td>" in pacer_panel(admin_client)


def test_the_settings_page_says_when_nothing_is_paced(admin_client, configure):
    configure(model="offline/pixel-sprite")

    assert "No paced model" in pacer_panel(admin_client)


def test_metrics_carry_the_pacer_state(learned):
    values = samples(Client().get("/metrics").content.decode())

    assert values[("sprite_pacer_limit_requests_per_minute", frozenset({("model", MODEL)}))] == 5
    assert values[("sprite_pacer_remaining_requests", frozenset({("model", MODEL)}))] == 4
    assert values[("sprite_pacer_paused_until_seconds", frozenset({("model", MODEL)}))] == 0
