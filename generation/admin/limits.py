"""Per-model rate limits: a limit recorded here replaces the one the pacer learns from headers."""
from datetime import datetime, timezone

from django import forms
from django.contrib import admin

from ..engine import pacing
from ..models import ModelRateLimit
from .forms import validate_model_string


class ModelRateLimitForm(forms.ModelForm):
    class Meta:
        model = ModelRateLimit
        fields = ["model", "requests_per_minute"]

    def clean_model(self) -> str:
        model = self.cleaned_data["model"].strip()
        validate_model_string(model)
        return model


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "–"
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


@admin.register(ModelRateLimit)
class ModelRateLimitAdmin(admin.ModelAdmin):
    form = ModelRateLimitForm
    list_display = ["model", "requests_per_minute", "pacer_state", "updated_at"]
    search_fields = ["model"]

    @admin.display(description="pacer now")
    def pacer_state(self, obj: ModelRateLimit) -> str:
        if not pacing.paced(obj.model):
            return "not paced (offline model)"
        state = pacing.shared_pacer().state(pacing.pacer_key(obj.model), rpm=obj.requests_per_minute)
        return (f"remaining {'–' if state.remaining is None else state.remaining}; "
                f"paused until {_when(state.paused_until)}; last 429 {_when(state.last_429)}")
