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


def _openai(model: str, *, prompt: str, size: int, seed: int | None, transparent: bool, style: Style) -> ModelRequest:
    # Remote models draw large; the sprite pipeline brings the picture down to the grid.
    if "gpt-image" in model:
        params = {**style.model_params, **({"background": "transparent"} if transparent else {})}
    else:
        params = {"size": style.model_params.get("size", "1024x1024")}
    # LiteLLM's image generation reads only OPENAI_BASE_URL by itself; pass ours explicitly.
    if settings.OPENAI_BASE_URL:
        params["api_base"] = settings.OPENAI_BASE_URL
    if settings.OPENAI_API_KEY:
        params["api_key"] = settings.OPENAI_API_KEY
    return ModelRequest(model, f"{prompt}. {style.prompt_suffix}", params)


def _generic(model: str, *, prompt: str, size: int, seed: int | None, transparent: bool, style: Style) -> ModelRequest:
    # Other LiteLLM providers read their own credentials from the environment.
    return ModelRequest(model, f"{prompt}. {style.prompt_suffix}", {"size": style.model_params.get("size", "1024x1024")})


ADAPTERS = {OFFLINE_PROVIDER: _offline, "openai": _openai}


def request_for(model: str, *, prompt: str, size: int, seed: int | None, transparent: bool, style: Style) -> ModelRequest:
    adapter = ADAPTERS.get(provider_of(model), _generic)
    return adapter(model, prompt=prompt, size=size, seed=seed, transparent=transparent, style=style)


def credentials_problem(model: str) -> str | None:
    """Why a call to `model` would be refused before it is sent for want of credentials, or None.

    OpenAI's key is ours to pass (settings); other providers read their own variables, and
    LiteLLM knows which. A model LiteLLM cannot route has a warning of its own.
    """
    provider = model.partition("/")[0]
    if provider == OFFLINE_PROVIDER:
        return None
    if provider == "openai":
        return None if settings.OPENAI_API_KEY else f"no API key is set for {model}: set OPENAI_API_KEY"
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
