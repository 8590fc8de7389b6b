"""Cross-checks of the environment's generation defaults (`manage.py check`)."""
from django.conf import settings
from django.core.checks import Error, Warning, register
from django.db import DatabaseError
from django.utils import timezone

from .providers import missing_settings, routing_problem
from .providers.retirements import retirement_warning


@register()
def check_generation_defaults(app_configs, **kwargs):
    defaults = settings.SPRITE_GENERATION_DEFAULTS
    problems = []
    if defaults["model"] in defaults["fallback_models"]:
        problems.append(Warning(
            "SPRITE_LITELLM_FALLBACK_MODELS repeats the primary model; it is skipped.", id="generation.W001"))
    for model in (defaults["model"], *defaults["fallback_models"]):
        if message := retirement_warning(model, today=timezone.now().date()):
            problems.append(Warning(message, hint="Choose another model in SPRITE_LITELLM_MODEL or the "
                                    "fallbacks, or override it in the admin.", id="generation.W002"))
    for name, model in environment_models():
        if missing := missing_settings(model):
            problems.append(Warning(f"{name}: {model} needs {' and '.join(missing)}, empty in the environment.",
                                    id="generation.W003"))
    return problems


def environment_models() -> list[tuple[str, str]]:
    """(variable, model) for every model string the environment configures."""
    defaults = settings.SPRITE_GENERATION_DEFAULTS
    return [("SPRITE_LITELLM_MODEL", defaults["model"]),
            *(("SPRITE_LITELLM_FALLBACK_MODELS", m) for m in defaults["fallback_models"])]


@register()
def check_model_routing(app_configs, **kwargs):
    """Every model string LiteLLM cannot route: an Error from the environment (it would fail
    every request), a Warning from the admin's stored settings (the admin form refuses new ones)."""
    problems = [Error(f"{name}: {problem}.", id="generation.E001")
                for name, model in environment_models() if (problem := routing_problem(model))]
    from .config import parse_models
    from .models import GenerationSettings

    try:
        row = GenerationSettings.objects.filter(pk=1).first()
    except DatabaseError:  # no table yet (before migrate), or no database: nothing stored to check
        return problems
    stored = [row.model.strip(), *parse_models(row.fallback_models)] if row else []
    problems += [Warning(f"The generation settings stored in the admin: {problem}.",
                         hint="Correct it in the admin's generation settings.", id="generation.W004")
                 for model in stored if model and (problem := routing_problem(model))]
    return problems
