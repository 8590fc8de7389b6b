"""The generation settings page: one row of live overrides, with what they cost in waiting."""
import logging

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone

from ..config import FIELDS, RETRIES_WHEN_DISABLED, EffectiveSettings, effective_settings
from ..engine import policy
from ..models import GenerationSettings
from ..quota import pacing
from .formatting import fair_row, pacer_row, seconds
from .forms import (
    PRESET_BUTTON, PRESETS, RESET_BUTTON, GenerationSettingsForm, credential_warnings, display, effective_help_texts,
    retirement_warnings,
)

SETTINGS_URL = "admin:generation_generationsettings_change"
PACER_RESET_URL = "generation_generationsettings_pacer_reset"

logger = logging.getLogger("generation")


def worst_case(effective: EffectiveSettings) -> dict:
    """What the page shows, and its script recomputes as the admin types.

    The wait: policy.worst_case_wait of the effective values. The longest request: every
    call timing out after its waits, cut at the total timeout.
    """
    models, retries = effective.models, effective.retries_per_model
    per_model, total = policy.worst_case_wait(max_retries=retries, retry_delay=effective.retry_delay,
                                              models=len(models), max_wait=effective.max_wait)
    calls = len(models) * (retries + 1)
    longest = total + calls * effective.timeout
    return {"models": models, "per_model": seconds(per_model), "total": seconds(total),
            "uncapped": seconds(per_model * len(models)), "max_wait": seconds(effective.max_wait),
            "calls": calls, "longest_uncapped": seconds(longest),
            "longest": seconds(min(longest, effective.total_timeout)),
            "total_timeout": seconds(effective.total_timeout)}


@admin.register(GenerationSettings)
class GenerationSettingsAdmin(admin.ModelAdmin):
    """The singleton row: no list, no add, no delete; every save is live on the next request."""

    form = GenerationSettingsForm
    today = staticmethod(timezone.localdate)  # retirement dates are judged against it; tests replace it
    fieldsets = [
        ("Models", {"fields": ["enabled", "model", "fallback_models"]}),
        ("Retries and waiting", {"fields": ["max_retries", "retry_delay", "max_wait", "timeout", "total_timeout"]}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # Its own permission: these settings decide what every user waits for.
        return request.user.has_perm("generation.change_generation_settings")

    def get_urls(self):
        reset = path("pacer-reset/", self.admin_site.admin_view(self.pacer_reset_view), name=PACER_RESET_URL)
        return [reset, *super().get_urls()]

    def pacer_reset_view(self, request: HttpRequest) -> HttpResponse:
        """The pacer panel's "Clear learned state": one model's limit, window and pause, for every worker."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        model = request.POST.get("model", "")
        if model not in effective_settings(GenerationSettings.load()).models or not pacing.paced(model):
            messages.error(request, "That model is not one the pacer paces now.")
        else:
            pacing.forget(model)
            logger.warning("pacer_reset", extra={"event": "pacer_reset", "model": model, "user": request.user.pk})
            messages.success(request, f"Cleared what the pacer learned about {model}; its next call probes again.")
        return HttpResponseRedirect(reverse(SETTINGS_URL, args=[1]))

    def get_object(self, request: HttpRequest, object_id: str, from_field=None) -> GenerationSettings | None:
        return GenerationSettings.load() if object_id == "1" else None

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(reverse(SETTINGS_URL, args=[1]))

    def response_post_save_change(self, request: HttpRequest, obj) -> HttpResponse:
        return HttpResponseRedirect(reverse(SETTINGS_URL, args=[1]))

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        kwargs["help_texts"] = effective_help_texts(effective_settings(obj or GenerationSettings.load()))
        return super().get_form(request, obj, change, **kwargs)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # From the stored row: after a refused POST, `obj` holds the refused values.
        effective = effective_settings(GenerationSettings.load())
        defaults = settings.SPRITE_GENERATION_DEFAULTS
        context.update(
            effective_rows=[
                {"name": name, "label": GenerationSettings._meta.get_field(name).verbose_name,
                 "value": display(name, getattr(effective, name)), "source": effective.sources[name],
                 "environment": display(name, defaults[name])}
                for name in FIELDS
            ],
            worst_case=worst_case(effective),
            pacer_rows=[pacer_row(p.model, p.state) for p in pacing.model_states(effective.models)],
            fair_models=[(m.model, [fair_row(r) for r in m.tokens]) for m in pacing.model_shares(effective.models)],
            pacer_reset_url=f"admin:{PACER_RESET_URL}",
            retirement_warnings=retirement_warnings(effective, today=self.today()),
            credential_warnings=credential_warnings(effective),
            presets=[(key, p, seconds(policy.worst_case_backoff(p.max_retries, p.retry_delay)))
                     for key, p in PRESETS.items()],
            preset_button=PRESET_BUTTON, reset_button=RESET_BUTTON,
            # Data for the script, as JSON in a non-executable <script type="application/json">.
            environment={**defaults, "fallback_models": list(defaults["fallback_models"]),
                         "retries_when_disabled": RETRIES_WHEN_DISABLED},
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def construct_change_message(self, request, form, formsets, add=False):
        if form.button is None:
            return super().construct_change_message(request, form, formsets, add)
        if form.button == "reset":
            return "Reset every field to its environment default."
        preset = PRESETS[form.button]
        others = [str(form.fields[n].label) for n in form.changed_data if n not in ("max_retries", "retry_delay")]
        also = f" Also changed {', '.join(others)}." if others else ""
        return (f"Applied the {preset.label} preset: max retries {preset.max_retries}, "
                f"retry delay {preset.retry_delay:g} s.{also}")

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        if form.button in PRESETS:
            messages.info(request, f"Applied the {PRESETS[form.button].label} preset.")
        elif form.button == "reset":
            messages.info(request, "Every field now follows the environment.")
        for warning in retirement_warnings(effective_settings(obj), today=self.today()):
            # Prefixed: the admin capitalises a message's first letter, which would garble a model name.
            messages.warning(request, f"Model retirement: {warning}")
        for warning in credential_warnings(effective_settings(obj)):
            messages.warning(request, f"Credentials: {warning}")
