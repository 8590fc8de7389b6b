"""The fair share where operators look: the settings page and /metrics, per model and token."""
import re

import pytest
from django.test import Client
from django.urls import reverse

from generation.models import ApiToken, ModelRateLimit
from generation.quota import pacing
from generation.quota.pacer import Claimant, Queued, Slot
from tests.test_prometheus_and_json_logs import samples

pytestmark = pytest.mark.django_db

MODEL = "openai/gpt-image-2"
SETTINGS_PAGE = reverse("admin:generation_generationsettings_change", args=[1])


@pytest.fixture
def busy(user, configure, pacer, timeline):
    """Two tokens at a model allowed 2 calls a minute: A was served twice, then B queued once and
    one of A's clients was told to come back."""
    configure(model=MODEL)
    ModelRateLimit.objects.create(model=MODEL, requests_per_minute=2)
    a, _ = ApiToken.objects.create_key(user=user, name="studio <b>A</b>")
    b, _ = ApiToken.objects.create_key(user=user, name="B", weight=3)
    key = pacing.pacer_key(MODEL)
    ask = lambda token, **kw: pacer.acquire(key, deadline=timeline.clock() + kw.pop("wait", 600), rpm=2,  # noqa: E731
                                            claimant=pacing.claimant_of(type("Row", (), {"token": token})), **kw)
    assert [type(ask(a)) for _ in range(2)] == [Slot, Slot]
    timeline.now += 5
    assert isinstance(ask(b), Queued)
    assert ask(a, wait=1, hold=True).seconds > 1
    timeline.now += 5
    return a, b


def fair_panel(client) -> str:
    page = client.get(SETTINGS_PAGE).content.decode()
    start = page.index('id="generation-fair-share"')
    return re.sub(r">\s+<", "><", page[start:page.index("</div>", start)])


def test_the_settings_page_shows_who_waits_and_each_tokens_share(admin_client, busy):
    a, b = busy
    panel = fair_panel(admin_client)

    assert f"<caption>{MODEL}</caption>" in panel
    assert "<b>A</b>" not in panel and "studio &lt;b&gt;A&lt;/b&gt;" in panel  # a token's name is escaped
    row_b = panel[panel.index(f"B ({b.prefix})"):]
    row_b = row_b[:row_b.index("</tr>")]
    assert "<td>3</td><td>1</td><td>5 s</td><td>0</td><td>0.0%</td>" in row_b  # weight, waiting, oldest, calls, share
    row_a = panel[panel.index(f"({a.prefix})"):]
    row_a = row_a[:row_a.index("</tr>")]
    assert "<td>1</td><td>0 + 1 told to come back</td><td>5 s</td><td>2</td><td>100.0%</td>" in row_a


def test_prometheus_has_the_same_per_token(busy):
    a, b = busy
    values = samples(Client().get("/metrics").content.decode())

    def value(name, token):
        return values[(name, frozenset({("model", MODEL), ("token", token)}))]

    assert (value("sprite_fair_waiting_requests", b.prefix), value("sprite_fair_waiting_requests", a.prefix)) == (1, 1)
    assert value("sprite_fair_oldest_wait_seconds", b.prefix) == pytest.approx(5.0)
    assert (value("sprite_fair_served_last_10m", a.prefix), value("sprite_fair_share_last_10m", a.prefix)) == (2, 1.0)
    assert value("sprite_fair_share_last_10m", b.prefix) == 0
