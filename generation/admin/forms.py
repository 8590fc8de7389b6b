"""The admin's form for the generation settings: bounds, model strings, presets.

A blank field follows the environment, so every field is optional; what is
filled in must be something the service can run with on the next request.
"""
from dataclasses import dataclass
from datetime import date

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils.html import format_html
from django.utils.safestring import SafeString

from .. import providers
from ..config import ENVIRONMENT, EffectiveSettings, parse_models
from ..models import GenerationSettings
from ..providers.retirements import retirement_warning
from ..tunables import BY_NAME, NAMES, TUNABLES
from .formatting import seconds

BOUNDED = tuple(t.name for t in TUNABLES if t.bounded)
PRESET_BUTTON, RESET_BUTTON = "_preset", "_reset"


@dataclass(frozen=True)
class Preset:
    label: str
    max_retries: int
    retry_delay: float


# Named for what they do: how long one model is retried when the provider gives no hint (worst-case
# backoff 7 s, 62 s, 381 s). They set max retries and retry delay only; a provider's usage tier
# is a rate limit, recorded under "Model rate limits" (docs/RATE_LIMITS.md).
PRESETS = {
    "fast": Preset("Fail fast", 3, 1.0),
    "balanced": Preset("Balanced", 5, 2.0),
    "patient": Preset("Patient", 7, 3.0),
}


def bounds(name: str) -> tuple[float, float]:
    """(low, high) of a bounded setting: the contract's bounds, from the tunables table."""
    tunable = BY_NAME[name]
    return tunable.low, tunable.high


def display(name: str, value) -> str:
    kind = BY_NAME[name].kind
    if kind == "bool":
        return "on" if value else "off"
    if kind == "models":
        return ", ".join(value) or "none"
    if BY_NAME[name].unit == "s":
        return seconds(value)
    return str(value)


def effective_help_texts(effective: EffectiveSettings) -> dict[str, SafeString]:
    """Each field's own help, then what the service uses now and where that comes from.

    The admin renders help texts as HTML, and an effective value is whatever an admin or the
    environment typed (a model string, say): escaped here, or it is stored XSS.
    """
    texts = {}
    for name, source in effective.sources.items():
        own = GenerationSettings._meta.get_field(name).help_text
        blank = " Leave blank to follow the environment." if source != ENVIRONMENT else ""
        texts[name] = format_html("{} Effective: {} ({}).{}", own, display(name, getattr(effective, name)), source,
                                  blank)
    return texts


def retirement_warnings(effective: EffectiveSettings, *, today: date) -> list[str]:
    return [w for m in effective.models if (w := retirement_warning(m, today=today))]


def credential_warnings(effective: EffectiveSettings) -> list[str]:
    """A configured model whose calls would fail for want of a key, said before a request fails."""
    return [w for m in effective.models if (w := providers.credentials_problem(m))]


def validate_model_string(model: str) -> None:
    """The start-up check's rule (providers.routing_problem), as a form error."""
    if problem := providers.routing_problem(model):
        raise ValidationError(f"{problem}.")


def apply_button(data: QueryDict) -> tuple[QueryDict, str | None]:
    """The submitted data with a preset or reset button applied, and what was applied.

    Done on the data, before validation, so that a button is an ordinary save:
    the same checks, the same change log, and it works without JavaScript.
    """
    if RESET_BUTTON in data:
        data = data.copy()
        for name in GenerationSettingsForm.Meta.fields:
            data[name] = ""
        return data, "reset"
    preset = PRESETS.get(data.get(PRESET_BUTTON, ""))
    if preset is None:
        return data, None
    data = data.copy()
    data["max_retries"], data["retry_delay"] = str(preset.max_retries), str(preset.retry_delay)
    return data, data[PRESET_BUTTON]


class EnabledSelect(forms.NullBooleanSelect):
    def __init__(self, attrs=None) -> None:
        super().__init__(attrs)
        self.choices = [("unknown", "Follow the environment"), ("true", "On"), ("false", "Off")]


class GenerationSettingsForm(forms.ModelForm):
    class Meta:
        model = GenerationSettings
        fields = list(NAMES)
        widgets = {"enabled": EnabledSelect, "fallback_models": forms.TextInput(attrs={"class": "vTextField"})}

    def __init__(self, data=None, *args, **kwargs) -> None:
        self.button: str | None = None  # "reset", a preset's key, or None for a plain save
        if data is not None:
            data, self.button = apply_button(data)
        super().__init__(data, *args, **kwargs)
        for name in BOUNDED:
            if name in self.fields:  # absent when the page is read-only
                low, high = bounds(name)
                self.fields[name].widget.attrs.update(min=low, max=high)

    def clean_model(self) -> str:
        model = self.cleaned_data["model"].strip()
        if model:
            validate_model_string(model)
        return model

    def clean_fallback_models(self) -> str:
        models = parse_models(self.cleaned_data["fallback_models"])
        errors = []
        for model in models:
            try:
                validate_model_string(model)
            except ValidationError as exc:
                errors.extend(exc.messages)
        if repeated := sorted({m for m in models if models.count(m) > 1}):
            errors.append(f"Listed more than once: {', '.join(repeated)}.")
        if errors:
            raise ValidationError(errors)
        return ", ".join(models)

    def clean(self) -> dict:
        data = super().clean()
        for name in BOUNDED:
            # Django's number fields read "٣" or "３" as 3 (int() and float() do): the environment's
            # rule, plain decimals in ASCII digits, holds here too. Bounds are the model's to check.
            raw = (self.data.get(name) or "").strip() if name in self.fields else ""
            if raw and name not in self.errors and (problem := BY_NAME[name].number_problem(raw)):
                self.add_error(name, f"“{raw[:20]}” {problem}.")
        if "model" in data and "fallback_models" in data:
            primary = data["model"] or settings.SPRITE_GENERATION_DEFAULTS["model"]
            source = "" if data["model"] else " (from the environment)"
            if primary in parse_models(data["fallback_models"]):
                self.add_error("fallback_models", f"{primary} is the primary model{source}; "
                                                  "a fallback must be another model.")
        return data
