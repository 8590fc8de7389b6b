"""The pacer's state where operators look: the settings page and Prometheus' /metrics."""
import io

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from generation.models import ModelRateLimit
from generation.quota import pacing
from tests.calls import heard
from tests.test_prometheus_and_json_logs import samples

pytestmark = pytest.mark.django_db

MODEL = "openai/gpt-image-2"
SETTINGS_PAGE = reverse("admin:generation_generationsettings_change", args=[1])
RESET = reverse("admin:generation_generationsettings_pacer_reset")


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


def test_a_paused_model_shows_until_when_and_the_hint_that_did_it_escaped(admin_client, configure, pacer):
    configure(model=MODEL)
    key = pacing.pacer_key(MODEL)
    pacer.store_time = lambda: 4102444800.0  # the store's clock: 2100-01-01 00:00:00 UTC
    hostile = httpx.Headers({"retry-after": "<img src=x onerror=alert(1)>86400"})
    pacer.observe(key, heard(hostile, 429), status=429, slot=None, sent_at=pacer.timer())
    pacer.pause(key, until=pacer.timer() + 86400)

    panel = pacer_panel(admin_client)

    assert "<td>2100-01-01 01:00:00 UTC</td>" in panel  # a day's claim believed for an hour
    assert "429 retry-after: &lt;img src=x onerror=alert(1)&gt;86400" in panel
    assert "<img" not in panel


def test_a_model_blocked_by_remaining_0_shows_until_its_reset(admin_client, configure, pacer):
    configure(model=MODEL)
    key = pacing.pacer_key(MODEL)
    pacer.store_time = lambda: 4102444800.0
    spent = httpx.Headers({"x-ratelimit-limit-requests": "50", "x-ratelimit-remaining-requests": "0",
                           "x-ratelimit-reset-requests": "23h59m"})
    pacer.observe(key, heard(spent, 200), status=200, slot=None, sent_at=pacer.timer())

    panel = pacer_panel(admin_client)

    assert "<td>0</td>\n            <td>2100-01-01 01:00:00 UTC</td>" in panel, panel  # remaining 0, until its (bounded) reset
    assert "remaining 0, reset 23h59m" in panel


def test_the_pacer_panel_clears_a_models_learned_state(admin_client, learned, pacer, caplog):
    key = pacing.pacer_key(MODEL)
    pacer.pause(key, until=pacer.timer() + 600)

    response = admin_client.post(RESET, {"model": MODEL})

    assert response.status_code == 302
    state = pacer.state(key)
    assert (state.limit, state.paused_until, state.remaining) == (None, None, None)
    assert "not known yet" in pacer_panel(admin_client)
    assert [r.model for r in caplog.records if getattr(r, "event", None) == "pacer_reset"] == [MODEL]


def test_clearing_a_model_needs_a_post_and_the_settings_permission(client, admin_client, learned, pacer):
    viewer = get_user_model().objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_generationsettings"))
    client.force_login(viewer)

    assert admin_client.get(RESET).status_code == 405
    assert client.post(RESET, {"model": MODEL}).status_code == 403
    assert admin_client.post(RESET, {"model": "openai/not-configured"}).status_code == 302
    assert pacer.state(pacing.pacer_key(MODEL)).limit == 5  # neither cleared anything


def test_pacer_reset_clears_one_model_or_every_one(learned, pacer):
    other = pacing.pacer_key("openai/gpt-image-1")
    pacer.pause(other, until=pacer.timer() + 600)

    out = io.StringIO()
    call_command("pacer_reset", MODEL, stdout=out)
    assert pacer.state(pacing.pacer_key(MODEL)).limit is None
    assert pacer.state(other).paused_until is not None
    call_command("pacer_reset", stdout=out)
    assert pacer.state(other).paused_until is None
    assert "cleared for openai/gpt-image-2" in out.getvalue() and "cleared for every model" in out.getvalue()
    with pytest.raises(CommandError, match="not a model string"):
        call_command("pacer_reset", "two words")
