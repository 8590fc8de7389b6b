"""What to send each kind of model: prompt, parameters and credentials, in one place.

LiteLLM routes a model string to a provider; each provider we know has an
adapter here, so nothing above `providers` looks at a model string to guess
what it is.
"""
from dataclasses import dataclass

from django.conf import settings

from ..styles import Style
from .runtime import OFFLINE_PROVIDER, load_litellm


@dataclass(frozen=True)
class ModelRequest:
    """Everything one `litellm.image_generation` call needs but the timeout."""

    model: str
    prompt: str
    params: dict


def provider_of(model: str) -> str:
    """The provider LiteLLM routes `model` to ('' when it cannot route it)."""
    try:
        return load_litellm().get_llm_provider(model)[1] or ""
    except Exception:  # LiteLLM raises its BadRequestError for a model it cannot route
        return ""


def _offline(model: str, *, prompt: str, size: int, seed: int | None, transparent: bool, style: Style) -> ModelRequest:
    # The offline model draws the subject itself, at the requested size, and honours a seed.
    return ModelRequest(model, prompt, {"size": f"{size}x{size}", "seed": seed})


def _credentials(**values: str) -> dict:
    """The credentials that are set (an empty one is left for LiteLLM to look up or refuse)."""
    return {name: value for name, value in values.items() if value}


def _gpt_image(model: str, *, style: Style, transparent: bool) -> dict:
    # Remote models draw large; the sprite pipeline brings the picture down to the grid.
    if "gpt-image" in model:
        return {**style.model_params, **({"background": "transparent"} if transparent else {})}
    return {"size": style.model_params.get("size", "1024x1024")}


def _openai(model: str, *, prompt: str, size: int, seed: int | None, transparent: bool, style: Style) -> ModelRequest:
    # LiteLLM's image generation reads only OPENAI_BASE_URL by itself; pass ours explicitly.
    params = _gpt_image(model, style=style, transparent=transparent)
    params |= _credentials(api_base=settings.OPENAI_BASE_URL, api_key=settings.OPENAI_API_KEY)
    return ModelRequest(model, f"{prompt}. {style.prompt_suffix}", params)


def _azure(model: str, *, prompt: str, size: int, seed: int | None, transparent: bool, style: Style) -> ModelRequest:
    # OpenAI's Images API under a deployment the operator named: gpt-image's parameters when the
    # name says gpt-image (azure/gpt-image-1), a plain size otherwise.
    params = _gpt_image(model, style=style, transparent=transparent)
    params |= _credentials(api_base=settings.AZURE_API_BASE, api_key=settings.AZURE_API_KEY,
                           api_version=settings.AZURE_API_VERSION)
    return ModelRequest(model, f"{prompt}. {style.prompt_suffix}", params)


def _generic(model: str, *, prompt: str, size: int, seed: int | None, transparent: bool, style: Style) -> ModelRequest:
    # Other LiteLLM providers read their own credentials from the environment. Imagen (gemini/,
    # vertex_ai/) takes no size: LiteLLM turns this one into its 1:1 aspect ratio.
    return ModelRequest(model, f"{prompt}. {style.prompt_suffix}", {"size": style.model_params.get("size", "1024x1024")})


def _gemini(model: str, *, prompt: str, size: int, seed: int | None, transparent: bool, style: Style) -> ModelRequest:
    request = _generic(model, prompt=prompt, size=size, seed=seed, transparent=transparent, style=style)
    request.params.update(_credentials(api_base=settings.GEMINI_API_BASE, api_key=settings.GEMINI_API_KEY))
    return request


ADAPTERS = {OFFLINE_PROVIDER: _offline, "openai": _openai, "azure": _azure, "gemini": _gemini}
# The settings each provider cannot call without (Azure's API version has LiteLLM's default).
REQUIRED_SETTINGS = {"openai": ("OPENAI_API_KEY",), "azure": ("AZURE_API_BASE", "AZURE_API_KEY"),
                     "gemini": ("GEMINI_API_KEY",)}


def missing_settings(model: str) -> list[str]:
    """The settings `model`'s provider needs that are empty. By its prefix, as LiteLLM routes these
    providers, so that `manage.py check` answers without importing LiteLLM (seconds)."""
    return [name for name in REQUIRED_SETTINGS.get(model.partition("/")[0], ()) if not getattr(settings, name, "")]


def request_for(model: str, *, prompt: str, size: int, seed: int | None, transparent: bool, style: Style) -> ModelRequest:
    adapter = ADAPTERS.get(provider_of(model), _generic)
    return adapter(model, prompt=prompt, size=size, seed=seed, transparent=transparent, style=style)


def credentials_problem(model: str) -> str | None:
    """Why a call to `model` would be refused before it is sent for want of credentials, or None.

    The keys we pass ourselves (REQUIRED_SETTINGS) are checked in settings; other providers read
    their own variables, and LiteLLM knows which. A model LiteLLM cannot route has a warning of its own.
    """
    provider = model.partition("/")[0]  # as missing_settings: no LiteLLM import for the usual models
    if provider == OFFLINE_PROVIDER:
        return None
    if provider in REQUIRED_SETTINGS:
        missing = missing_settings(model)
        return f"no credentials are set for {model}: set {' and '.join(missing)}" if missing else None
    try:
        found = load_litellm().validate_environment(model=model)
    except Exception:  # LiteLLM cannot route it, or cannot tell
        return None
    if found.get("keys_in_environment"):
        return None
    names = ", ".join(str(name) for name in found.get("missing_keys") or []) or "its provider's variables"
    return f"no credentials are set for {model}: LiteLLM looks for {names} in the environment"


def subject_matched(model: str, prompt: str) -> bool | None:
    """For the offline model, whether it knows what the prompt names (else it drew a creature in the
    prompt's colours); None for any other model, which draws whatever it is asked."""
    if model.partition("/")[0] != OFFLINE_PROVIDER:
        return None
    from .procedural import knows_subject  # the art, loaded on first use

    return knows_subject(prompt)
