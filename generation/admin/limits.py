"""Per-model rate limits: a limit recorded here replaces the one the pacer learns from headers."""
from django import forms
from django.contrib import admin

from ..engine import pacing
from ..models import ModelRateLimit
from ..tunables import number_problem
from .formatting import pacer_row
from .forms import validate_model_string


class ModelRateLimitForm(forms.ModelForm):
    class Meta:
        model = ModelRateLimit
        fields = ["model", "requests_per_minute"]

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

    @admin.display(description="pacer now")
    def pacer_state(self, obj: ModelRateLimit) -> str:
        if not pacing.paced(obj.model):
            return "not paced (offline model)"
        row = pacer_row(obj.model, pacing.shared_pacer().state(pacing.pacer_key(obj.model),
                                                                rpm=obj.requests_per_minute))
        return f"remaining {row['remaining']}; paused until {row['paused_until']}; last 429 {row['last_429']}"
