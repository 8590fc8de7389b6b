"""The generation settings page: what an admin sees, may change, and what the service then uses."""
import html
import json
import re
from datetime import date

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from generation.admin import GenerationSettingsAdmin
from generation.config import effective_settings
from generation.models import GenerationSettings
from generation.tunables import BY_NAME

pytestmark = pytest.mark.django_db

URL = reverse("admin:generation_generationsettings_change", args=[1])
BLANK = {"enabled": "unknown", "model": "", "fallback_models": "", "max_retries": "", "retry_delay": "",
         "max_wait": "", "timeout": "", "total_timeout": "", "_save": "Save"}


def post(client, **fields):
    return client.post(URL, {**BLANK, **{k: str(v) for k, v in fields.items()}})


def stored() -> GenerationSettings:
    return GenerationSettings.load()


def staff(username: str, *codenames: str) -> User:
    user = User.objects.create_user(username, password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="generation", codename__in=codenames))
    return user


@pytest.fixture
def viewer(client):
    client.force_login(staff("viewer", "view_generationsettings"))
    return client


@pytest.fixture
def changer(client):
    client.force_login(staff("changer", "change_generation_settings"))
    return client


@pytest.fixture
def today(monkeypatch):
    def set_today(day: date) -> None:
        monkeypatch.setattr(GenerationSettingsAdmin, "today", staticmethod(lambda: day))
    return set_today


# --- the page -------------------------------------------------------------------------------------

def test_it_sends_the_list_page_straight_to_the_form(admin_client):
    response = admin_client.get(reverse("admin:generation_generationsettings_changelist"))
    assert response.status_code == 302
    assert response.url == URL


def test_it_offers_no_add_and_no_delete(admin_client):
    assert admin_client.get(reverse("admin:generation_generationsettings_add")).status_code == 403
    assert admin_client.get(reverse("admin:generation_generationsettings_delete", args=[1])).status_code == 403
    assert b"deletelink" not in admin_client.get(URL).content


def test_it_shows_the_environment_value_and_source_of_a_blank_field(admin_client):
    page = admin_client.get(URL).content.decode()
    assert "Effective: 3 (environment)." in page
    assert "Effective: 1 s (environment)." in page
    assert "Effective: offline/pixel-sprite (environment)." in page


def test_it_shows_the_admin_value_and_source_of_a_set_field(admin_client):
    GenerationSettings(max_retries=5, fallback_models="openai/gpt-image-2").save()
    page = admin_client.get(URL).content.decode()
    assert "Effective: 5 (admin)." in page
    assert "Effective: openai/gpt-image-2 (admin)." in page
    assert "environment: 3" in page  # what clearing the field would bring back


def test_it_returns_a_cleared_field_to_the_environment_value(admin_client):
    GenerationSettings(max_retries=5).save()
    post(admin_client, max_retries="")
    assert stored().max_retries is None
    assert effective_settings().max_retries == 3
    assert effective_settings().sources["max_retries"] == "environment"


def test_it_shows_the_worst_case_wait_of_the_effective_settings(admin_client):
    GenerationSettings(max_retries=5, retry_delay=2.0, max_wait=600).save()
    page = admin_client.get(URL).content.decode()
    assert '<span data-figure="total">62 s</span>' in page
    assert '<strong data-figure="max-wait">600 s</strong>' in page


def test_it_caps_the_worst_case_wait_at_max_wait(admin_client):
    GenerationSettings(max_retries=7, retry_delay=3.0, max_wait=30).save()
    page = admin_client.get(URL).content.decode()
    assert '<strong data-figure="per-model">381 s</strong>' in page
    assert '<span data-figure="total">30 s</span>' in page


def test_it_shows_the_longest_request_capped_by_the_total_timeout(admin_client):
    GenerationSettings(max_retries=2, retry_delay=1.0, max_wait=30, timeout=50, total_timeout=120).save()
    page = admin_client.get(URL).content.decode()
    # 3 calls of 50 s plus 3 s of backoff, cut at 120 s.
    assert '<span data-figure="calls">3</span>' in page
    assert '<span data-figure="longest-uncapped">153 s</span>' in page
    assert '<strong data-figure="longest">120 s</strong>' in page
    assert '<strong data-figure="total-timeout">120 s</strong>' in page


def test_it_counts_no_retries_when_disabled(admin_client):
    GenerationSettings(enabled=False, max_retries=5, fallback_models="openai/gpt-image-2").save()
    page = admin_client.get(URL).content.decode()
    assert '<strong data-figure="per-model">0 s</strong>' in page
    assert '<span data-figure="calls">1</span>' in page  # one attempt on the primary, no fallback
    assert effective_settings().retries_per_model == 0


def test_it_gives_the_script_the_rule_for_a_disabled_service(admin_client):
    page = admin_client.get(URL).content.decode()
    environment = json.loads(re.search(r'<script id="generation-environment" type="application/json">(.*?)</script>',
                                       page).group(1))
    assert environment["retries_when_disabled"] == 0
    assert environment["total_timeout"] == BY_NAME["total_timeout"].default


# --- bounds ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value, message", [
    ("max_retries", -1, "greater than or equal to 0"),
    ("max_retries", 11, "less than or equal to 10"),
    ("retry_delay", 0.09, "greater than or equal to 0.1"),
    ("retry_delay", 60.5, "less than or equal to 60"),
    ("max_wait", -0.5, "greater than or equal to 0"),
    ("max_wait", 600.5, "less than or equal to 600"),
    ("timeout", 0.5, "greater than or equal to 1"),
    ("timeout", 601, "less than or equal to 600"),
    ("total_timeout", 4.9, "greater than or equal to 5"),
    ("total_timeout", 900.5, "less than or equal to 900"),
])
def test_it_refuses_a_value_outside_the_bounds_with_a_message(admin_client, field, value, message):
    response = post(admin_client, **{field: value})
    assert response.status_code == 200  # the form again, not a redirect
    assert message in response.content.decode()
    assert getattr(stored(), field) is None


@pytest.mark.parametrize("field, value", [
    ("max_retries", 0), ("max_retries", 10), ("retry_delay", 0.1), ("retry_delay", 60),
    ("max_wait", 0), ("max_wait", 600), ("timeout", 1), ("timeout", 600), ("total_timeout", 5),
    ("total_timeout", 900),
])
def test_it_accepts_a_value_at_the_bounds(admin_client, field, value):
    response = post(admin_client, **{field: value})
    assert response.status_code == 302
    assert getattr(stored(), field) == value


# --- models ---------------------------------------------------------------------------------------

def test_it_refuses_a_fallback_with_an_unknown_provider(admin_client):
    response = post(admin_client, fallback_models="nowhere/some-model")
    assert "'nowhere/some-model' has no provider LiteLLM knows" in html.unescape(response.content.decode())
    assert stored().fallback_models == ""


def test_it_refuses_a_fallback_listed_twice(admin_client):
    response = post(admin_client, fallback_models="openai/gpt-image-2, openai/gpt-image-2")
    assert "Listed more than once: openai/gpt-image-2." in response.content.decode()


def test_it_refuses_a_fallback_equal_to_the_environment_primary(admin_client):
    response = post(admin_client, fallback_models="offline/pixel-sprite")
    assert "offline/pixel-sprite is the primary model (from the environment)" in response.content.decode()


def test_it_refuses_a_fallback_equal_to_the_admin_primary(admin_client):
    response = post(admin_client, model="openai/gpt-image-2", fallback_models="openai/gpt-image-2")
    assert "openai/gpt-image-2 is the primary model; a fallback must be another model." in response.content.decode()


def test_it_refuses_a_primary_model_with_an_unknown_provider(admin_client):
    response = post(admin_client, model="nowhere/some-model")
    assert "has no provider LiteLLM knows" in response.content.decode()
    assert stored().model == ""


def test_it_refuses_a_model_string_with_spaces(admin_client):
    response = post(admin_client, model="openai/gpt image 2")
    assert "is not a model string" in response.content.decode()


def test_it_accepts_valid_models_and_normalises_the_fallback_list(admin_client):
    response = post(admin_client, model="openai/gpt-image-2", fallback_models=" offline/pixel-sprite ,azure/dall-e-3,")
    assert response.status_code == 302
    assert stored().model == "openai/gpt-image-2"
    assert stored().fallback_models == "offline/pixel-sprite, azure/dall-e-3"


def test_it_warns_about_a_retired_model_without_refusing_it(admin_client, today):
    today(date(2026, 6, 1))
    response = post(admin_client, fallback_models="openai/dall-e-3")
    assert response.status_code == 302
    assert stored().fallback_models == "openai/dall-e-3"
    page = admin_client.get(URL).content.decode()  # the message, then the note on the form
    assert page.count("openai/dall-e-3 was retired on 2026-05-12; it answers model_not_found.") == 2


def test_it_warns_about_a_model_that_retires_soon(admin_client, today):
    today(date(2026, 6, 1))
    GenerationSettings(model="openai/gpt-image-1.5").save()
    page = admin_client.get(URL).content.decode()
    assert "openai/gpt-image-1.5 is deprecated and retires on 2026-12-01." in page


def test_it_shows_no_retirement_note_for_current_models(admin_client, today):
    today(date(2026, 6, 1))
    GenerationSettings(model="openai/gpt-image-2").save()
    assert "Model retirement" not in admin_client.get(URL).content.decode()


# --- presets and reset ----------------------------------------------------------------------------

@pytest.mark.parametrize("preset, retries, delay", [("fast", 3, 1.0), ("balanced", 5, 2.0), ("patient", 7, 3.0)])
def test_it_applies_a_preset(admin_client, preset, retries, delay):
    response = post(admin_client, _preset=preset)
    assert response.status_code == 302
    assert (stored().max_retries, stored().retry_delay) == (retries, delay)


def test_it_keeps_the_other_fields_when_applying_a_preset(admin_client):
    post(admin_client, _preset="balanced", max_wait=90, max_retries=9)
    assert (stored().max_retries, stored().retry_delay, stored().max_wait) == (5, 2.0, 90)


def test_it_logs_the_preset_in_the_history(admin_client):
    post(admin_client, _preset="patient")
    entry = LogEntry.objects.get()
    assert entry.get_change_message() == "Applied the Patient preset: max retries 7, retry delay 3 s."
    history = admin_client.get(reverse("admin:generation_generationsettings_history", args=[1]))
    assert "Applied the Patient preset" in history.content.decode()


def test_it_resets_every_field_to_the_environment(admin_client):
    GenerationSettings(enabled=False, model="openai/gpt-image-2", fallback_models="offline/pixel-sprite",
                       max_retries=7, retry_delay=3, max_wait=100, timeout=10).save()
    response = post(admin_client, _reset="1", max_retries=9, model="openai/gpt-image-2")
    assert response.status_code == 302
    assert set(effective_settings().sources.values()) == {"environment"}
    assert LogEntry.objects.get().get_change_message() == "Reset every field to its environment default."


def test_it_offers_the_preset_and_reset_buttons_to_an_admin_who_may_change(admin_client):
    page = admin_client.get(URL).content.decode()
    assert 'name="_preset" value="balanced"' in page
    assert 'name="_reset"' in page


# --- permissions ----------------------------------------------------------------------------------

def test_it_shows_a_read_only_page_to_staff_with_view_permission_only(viewer):
    response = viewer.get(URL)
    page = response.content.decode()
    assert response.status_code == 200
    assert 'name="max_retries"' not in page
    assert 'name="_preset"' not in page and 'name="_reset"' not in page
    assert "Effective: 3 (environment)." in page


def test_it_refuses_changes_from_staff_with_view_permission_only(viewer):
    assert post(viewer, max_retries=5).status_code == 403
    assert viewer.post(URL, {**BLANK, "_preset": "patient"}).status_code == 403
    assert stored().max_retries is None


def test_it_lets_staff_with_the_change_permission_change(changer):
    assert 'name="max_retries"' in changer.get(URL).content.decode()
    assert post(changer, max_retries=5).status_code == 302
    assert stored().max_retries == 5


def test_it_needs_the_dedicated_permission_not_the_default_one(client):
    client.force_login(staff("default-change", "change_generationsettings", "view_generationsettings"))
    assert post(client, max_retries=5).status_code == 403


# --- history and live apply -----------------------------------------------------------------------

def test_it_writes_a_change_log_entry_on_save(admin_client):
    post(admin_client, max_retries=4, timeout=60)
    entry = LogEntry.objects.get()
    assert entry.object_id == "1"
    assert entry.get_change_message() == "Changed Max retries and Timeout."


def test_it_applies_a_change_to_the_next_request_without_a_restart(admin_client):
    assert effective_settings().max_retries == 3
    post(admin_client, max_retries=8)
    assert effective_settings().max_retries == 8
    assert effective_settings().sources["max_retries"] == "admin"


def test_the_presets_are_named_for_what_they_do_not_for_a_providers_tiers(admin_client):
    page = admin_client.get(URL).content.decode()

    assert all(f"{label}: {retries} retries" in page for label, retries in
               [("Fail fast", 3), ("Balanced", 5), ("Patient", 7)])
    assert "not a\n        provider's usage tiers" in page or "not a provider's usage tiers" in " ".join(page.split())
    assert not any(f">{tier}:" in " ".join(page.split()) for tier in ("Free", "Standard", "Heavy"))
