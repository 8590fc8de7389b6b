"""Cross-checks of the environment's generation defaults (`manage.py check`)."""
from django.conf import settings
from django.core.checks import Warning, register
from django.utils import timezone

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
    if defaults["model"].startswith("openai/") and not settings.OPENAI_API_KEY:
        problems.append(Warning("SPRITE_LITELLM_MODEL is an OpenAI model but OPENAI_API_KEY is empty.",
                                id="generation.W003"))
    return problems
