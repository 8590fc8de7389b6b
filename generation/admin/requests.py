"""The request log: read-only rows with their attempts, and statistics that follow the filters."""
import base64
import uuid

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html

from .. import stats
from ..engine import jobs
from ..models import GenerationAttempt, GenerationRequest
from .charts import chart, summary
from .formatting import duration_ms, usd

PROMPT_CHARS = 24  # enough to recognise a request, narrow enough for a laptop; the whole prompt is on its page


# Outcomes LiteLLM decides before sending anything (no key set, a model it cannot route): no HTTP status.
NOT_SENT = {GenerationAttempt.Outcome.AUTH_FAILED, GenerationAttempt.Outcome.MODEL_UNSUPPORTED}


def warn_if_unattended(request: HttpRequest) -> None:
    """Async requests wait in Redis for a worker; say so when none listens (docs/WORKER.md)."""
    waiting = jobs.unattended()
    if waiting:
        messages.warning(request, f"{waiting} async request{'s' if waiting != 1 else ''} waiting in the queue and "
                                  "no worker listens: start one with `make worker` (python manage.py worker).")


class AttemptInline(admin.TabularInline):
    model = GenerationAttempt
    fields = readonly_fields = ["number", "started_at", "model", "outcome", "http", "error_code",
                                "duration_ms", "wait_before_ms", "hint_ms", "cost", "message"]
    extra = 0
    can_delete = False

    @admin.display(description="HTTP status")
    def http(self, obj: GenerationAttempt) -> str:
        if obj.http_status is not None:
            return str(obj.http_status)
        return "not sent" if obj.outcome in NOT_SENT else "no answer"

    @admin.display(description="cost (USD)")
    def cost(self, obj: GenerationAttempt) -> str:
        return usd(obj.cost_usd)

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

    # Fits 1280 px beside the filters (tests/test_admin_layout_browser.py); attempts are on each request's page.
    list_display = ["time", "user", "status", "prompt_start", "model_used", "retries", "fallback", "wait", "latency",
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
        ("Outcome", {"fields": ["model_requested", "model_used", "attempts", "retries", "fallback", "wait",
                                "latency", "cost", "error_code", "error_message", "retry_after"]}),
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
        return f"{timezone.localtime(obj.created_at):%m-%d %H:%M}"  # the year is in the date filter above

    @admin.display(description="prompt")
    def prompt_start(self, obj: GenerationRequest) -> str:
        # Plain text: the admin escapes it, so a hostile prompt shows as the characters it is.
        prompt = " ".join(obj.prompt.split())
        return prompt if len(prompt) <= PROMPT_CHARS else prompt[:PROMPT_CHARS - 1].rstrip() + "…"

    @admin.display(description="fallback", ordering="fallback_used")
    def fallback(self, obj: GenerationRequest) -> str:
        # Words, not the admin's red cross: no fallback is the healthy case, not an error.
        return "used" if obj.fallback_used else ""

    @admin.display(description="error", ordering="error_code")
    def error(self, obj: GenerationRequest) -> str:
        return obj.error_code

    @admin.display(description="wait", ordering="wait_ms")
    def wait(self, obj: GenerationRequest) -> str:
        return duration_ms(obj.wait_ms)

    @admin.display(description="latency", ordering="latency_ms")
    def latency(self, obj: GenerationRequest) -> str:
        return duration_ms(obj.latency_ms)

    @admin.display(description="cost (USD)", ordering="cost_usd")
    def cost(self, obj: GenerationRequest) -> str:
        return usd(obj.cost_usd)

    @admin.display(description="image")
    def image(self, obj: GenerationRequest) -> str:
        if not obj.image_png:
            return "–"
        return format_html('<img src="data:image/png;base64,{}" alt="the generated sprite" width="{}" height="{}" '
                           'class="generation-sprite">', base64.b64encode(bytes(obj.image_png)).decode(),
                           max(obj.size, 128), max(obj.size, 128))

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        warn_if_unattended(request)
        response = super().changelist_view(request, extra_context)
        if isinstance(response, TemplateResponse) and "cl" in response.context_data:
            figures = stats.dashboard(response.context_data["cl"].queryset)
            response.context_data.update(
                stats=figures, summary=summary(figures), chart=chart(figures["timeline"], figures["timeline_unit"]),
                per_model=[{**row, "avg_latency": duration_ms(row["avg_latency_ms"])} for row in figures["per_model"]],
            )
        return response
