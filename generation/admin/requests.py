"""The admin: live generation settings, the request log with its statistics, API tokens."""
import base64
import math
import uuid

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from rest_framework_api_key.admin import APIKeyModelAdmin

from .. import stats
from ..engine import policy
from ..config import FIELDS, EffectiveSettings, effective_settings
from .forms import (
    PRESET_BUTTON, PRESETS, RESET_BUTTON, GenerationSettingsForm, display, effective_help_texts, retirement_warnings,
)
from ..models import ApiToken, GenerationAttempt, GenerationRequest, GenerationSettings

SETTINGS_URL = "admin:generation_generationsettings_change"


def seconds(value: float) -> str:
    """One decimal, no trailing .0: the same text the page's script writes."""
    return f"{value:.1f}".removesuffix(".0") + " s"


def duration_ms(ms: float | None) -> str:
    if ms is None:
        return "–"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    minutes = round(ms / 1000) // 60
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"


def percent(ratio: float | None) -> str:
    return "–" if ratio is None else f"{ratio:.1%}"


def worst_case(effective: EffectiveSettings) -> dict:
    """What the page shows (and its script recomputes): policy.worst_case_wait of the effective values."""
    retries = effective.max_retries if effective.enabled else 0  # disabled means one attempt
    per_model, total = policy.worst_case_wait(max_retries=retries, retry_delay=effective.retry_delay,
                                              models=len(effective.models), max_wait=effective.max_wait)
    return {"models": effective.models, "per_model": seconds(per_model), "total": seconds(total),
            "uncapped": seconds(per_model * len(effective.models)), "max_wait": seconds(effective.max_wait)}


@admin.register(GenerationSettings)
class GenerationSettingsAdmin(admin.ModelAdmin):
    """The singleton row: no list, no add, no delete; every save is live on the next request."""

    form = GenerationSettingsForm
    today = staticmethod(timezone.localdate)  # retirement dates are judged against it; tests replace it
    fieldsets = [
        ("Models", {"fields": ["enabled", "model", "fallback_models"]}),
        ("Retries and waiting", {"fields": ["max_retries", "retry_delay", "max_wait", "timeout"]}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # Its own permission: these settings decide what every user waits for.
        return request.user.has_perm("generation.change_generation_settings")

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
            retirement_warnings=retirement_warnings(effective, today=self.today()),
            presets=[(key, p, seconds(policy.worst_case_backoff(p.max_retries, p.retry_delay)))
                     for key, p in PRESETS.items()],
            preset_button=PRESET_BUTTON, reset_button=RESET_BUTTON,
            environment={**defaults, "fallback_models": list(defaults["fallback_models"])},
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


class AttemptInline(admin.TabularInline):
    model = GenerationAttempt
    fields = readonly_fields = ["number", "started_at", "model", "outcome", "http_status", "error_code",
                                "duration_ms", "wait_before_ms", "hint_ms"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        # Attempts are part of the request's record: whoever may read one reads both.
        return request.user.has_perm("generation.view_generationrequest")


@admin.register(GenerationRequest)
class GenerationRequestAdmin(admin.ModelAdmin):
    """Append-only: the record of what each request cost, readable, never edited."""

    list_display = ["time", "user", "status", "model_used", "attempts", "retries", "fallback", "wait", "latency",
                    "error"]
    list_filter = ["status", "model_used", "fallback_used", "error_code"]
    date_hierarchy = "created_at"
    search_fields = ["prompt"]
    search_help_text = "Words of the prompt, or a request id."
    list_select_related = ["user"]
    inlines = [AttemptInline]
    fieldsets = [
        (None, {"fields": ["id", "status", "created_at", "finished_at", "user", "token", "image"]}),
        ("Request", {"fields": ["prompt", "style", "size", "options", "idempotency_key"]}),
        ("Outcome", {"fields": ["model_requested", "model_used", "attempts", "retries", "fallback_used", "wait",
                                "latency", "error_code", "error_message", "retry_after"]}),
    ]
    readonly_fields = [f for _, options in fieldsets for f in options["fields"]]

    class Media:
        css = {"all": ["generation/admin.css"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest):
        # The image is read on the detail page only; a page of 100 rows need not carry 100 PNGs.
        return super().get_queryset(request).defer("image_png")

    def get_search_results(self, request, queryset, search_term):
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            request_id = uuid.UUID(search_term.strip())
        except ValueError:
            return found, may_have_duplicates
        return found | queryset.filter(pk=request_id), may_have_duplicates

    @admin.display(description="time", ordering="created_at")
    def time(self, obj: GenerationRequest) -> str:
        return f"{timezone.localtime(obj.created_at):%Y-%m-%d %H:%M}"

    @admin.display(description="fallback", boolean=True, ordering="fallback_used")
    def fallback(self, obj: GenerationRequest) -> bool:
        return obj.fallback_used

    @admin.display(description="error", ordering="error_code")
    def error(self, obj: GenerationRequest) -> str:
        return obj.error_code

    @admin.display(description="wait", ordering="wait_ms")
    def wait(self, obj: GenerationRequest) -> str:
        return duration_ms(obj.wait_ms)

    @admin.display(description="latency", ordering="latency_ms")
    def latency(self, obj: GenerationRequest) -> str:
        return duration_ms(obj.latency_ms)

    @admin.display(description="image")
    def image(self, obj: GenerationRequest) -> str:
        if not obj.image_png:
            return "–"
        return format_html('<img src="data:image/png;base64,{}" alt="the generated sprite" width="{}" height="{}" '
                           'class="generation-sprite">', base64.b64encode(bytes(obj.image_png)).decode(),
                           max(obj.size, 128), max(obj.size, 128))

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        if isinstance(response, TemplateResponse) and "cl" in response.context_data:
            figures = stats.dashboard(response.context_data["cl"].queryset)
            response.context_data.update(
                stats=figures, summary=summary(figures), chart=chart(figures["timeline"], figures["timeline_unit"]),
                per_model=[{**row, "avg_latency": duration_ms(row["avg_latency_ms"])} for row in figures["per_model"]],
            )
        return response


def summary(figures: dict) -> list[tuple[str, str, str]]:
    """The headline cards: (label, figure, detail)."""
    t = figures["totals"]
    return [
        ("Requests", f"{t['total_requests']}", f"{t['pending_requests']} pending, {t['attempts']} upstream calls"),
        ("Succeeded", f"{t['successful_requests']}", f"{percent(figures['success_rate'])} of finished"),
        ("Failed", f"{t['failed_requests']}",
         f"{percent(None if figures['success_rate'] is None else 1 - figures['success_rate'])} of finished"),
        ("Retries", f"{t['retries']}", f"{percent(figures['retry_rate'])} of requests retried"),
        ("Fallbacks used", f"{t['fallbacks_used']}", f"{percent(figures['fallback_rate'])} of requests"),
        ("Latency p50 / p95", f"{duration_ms(figures['p50'])} / {duration_ms(figures['p95'])}",
         f"{duration_ms(t['total_latency_ms'])} in all"),
        ("Waiting", duration_ms(t["total_wait_ms"]), "between attempts, in all"),
    ]


CHART_WIDTH, CHART_HEIGHT, CHART_TICKS = 900, 150, 6
TICK_FORMATS = {"hour": "%m-%d %H:%M", "day": "%Y-%m-%d", "week": "%Y-%m-%d"}


def chart(buckets: list[stats.Bucket], unit: str) -> dict:
    """Stacked bars (succeeded at the bottom, failed above, pending on top) in SVG coordinates."""
    tallest = max((b.total for b in buckets), default=0)
    slot = CHART_WIDTH / max(len(buckets), 1)
    bars = []
    for index, bucket in enumerate(buckets):
        y, segments = float(CHART_HEIGHT), []
        for kind, count in (("succeeded", bucket.succeeded), ("failed", bucket.failed), ("pending", bucket.other)):
            height = CHART_HEIGHT * count / tallest if tallest else 0
            y -= height
            if count:
                segments.append({"kind": kind, "y": round(y, 2), "height": round(height, 2)})
        bars.append({"x": round(index * slot + slot * 0.1, 2), "width": round(slot * 0.8, 2), "bucket": bucket,
                     "segments": segments})
    every = max(1, math.ceil(len(buckets) / CHART_TICKS))
    ticks = [{"x": round((i + 0.5) * slot, 2), "label": f"{timezone.localtime(b.start):{TICK_FORMATS[unit]}}"}
             for i, b in enumerate(buckets) if i % every == 0]
    return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "tallest": tallest, "bars": bars, "ticks": ticks}


@admin.register(ApiToken)
class ApiTokenAdmin(APIKeyModelAdmin):
    """The package's admin shows the raw key once, on create; revoking cannot be undone."""

    list_display = [*APIKeyModelAdmin.list_display, "user", "last_used_at"]
    list_filter = [*APIKeyModelAdmin.list_filter, "revoked"]
    search_fields = [*APIKeyModelAdmin.search_fields, "user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), "last_used_at")

    @admin.action(description="Revoke selected API tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset) -> None:
        tokens = list(queryset.filter(revoked=False))
        for token in tokens:
            token.revoked = True
            token.save(update_fields=["revoked"])
            self.log_change(request, token, "Revoked.")
        self.message_user(request, f"Revoked {len(tokens)} API token(s).", messages.SUCCESS)


# The package's own concrete APIKey model is unused: tokens here belong to users.
from rest_framework_api_key.models import APIKey  # noqa: E402

if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)
