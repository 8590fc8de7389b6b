"""Per-model rate limits: a limit recorded here replaces the one the pacer learns from headers."""
from django import forms
from django.contrib import admin

from ..models import ModelRateLimit
from ..quota import pacing
from ..tunables import number_problem
from .formatting import pacer_row
from .forms import validate_model_string


class ModelRateLimitForm(forms.ModelForm):
    class Meta:
        model = ModelRateLimit
        fields = ["model", "requests_per_minute"]
        help_texts = {  # the form's, not the model's: help that changes needs no migration
            "model": "The model string as in the generation settings, e.g. openai/gpt-image-2 or azure/my-deployment.",
            "requests_per_minute": "What your account may send this model per minute; one image is one request. "
                                   "OpenAI: your organisation's limits page, for your usage tier. Azure: the "
                                   "deployment's quota (6 on the default quota of DALL-E 3 and GPT-image-1). "
                                   "See docs/RATE_LIMITS.md.",
        }

    def clean_model(self) -> str:
        model = self.cleaned_data["model"].strip()
        validate_model_string(model)
        return model

    def clean_requests_per_minute(self) -> int:
        # Django reads "٣" as 3; a limit is typed in ASCII digits, like every number setting.
        raw = str(self.data.get("requests_per_minute") or "")
        if problem := number_problem(raw, whole=True):
            raise forms.ValidationError(f"“{raw[:20]}” {problem}.")
        return self.cleaned_data["requests_per_minute"]


@admin.register(ModelRateLimit)
class ModelRateLimitAdmin(admin.ModelAdmin):
    form = ModelRateLimitForm
    list_display = ["model", "requests_per_minute", "pacer_state", "updated_at"]
    search_fields = ["model"]
    actions = ["clear_pacer_state"]

    class Media:
        css = {"all": ["generation/admin.css"]}

    @admin.display(description="pacer now")
    def pacer_state(self, obj: ModelRateLimit) -> str:
        if not pacing.paced(obj.model):
            return "not paced (offline model)"
        row = pacer_row(obj.model, pacing.shared_pacer().state(pacing.pacer_key(obj.model),
                                                                rpm=obj.requests_per_minute))
        because = f" ({row['why']})" if row["why"] != "–" else ""
        return (f"remaining {row['remaining']}; paused until {row['paused_until']}{because}; "
                f"last 429 {row['last_429']}")  # the admin escapes it, the provider's words included

    @admin.action(description="Clear the pacer's learned state of the selected models")
    def clear_pacer_state(self, request, queryset) -> None:
        models = [m for m in queryset.values_list("model", flat=True) if pacing.paced(m)]
        for model in models:
            pacing.forget(model)
        self.message_user(request, f"Cleared the pacer's learned state of {len(models)} model(s).")
