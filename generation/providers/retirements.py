"""Model retirement dates, from LiteLLM's bundled model registry.

Read straight from the JSON file LiteLLM ships, without importing LiteLLM
(seconds), so system checks and the admin form stay fast.
"""
import functools
import importlib.util
import json
from datetime import date
from pathlib import Path

# Retirements OpenAI announced that this LiteLLM release's registry lacks.
KNOWN_RETIREMENTS = {"dall-e-3": date(2026, 5, 12)}


@functools.cache
def _registry() -> dict:
    spec = importlib.util.find_spec("litellm")
    path = Path(spec.submodule_search_locations[0]) / "model_prices_and_context_window_backup.json"
    return json.loads(path.read_text())


def deprecation_date(model: str) -> date | None:
    registry = _registry()
    bare = model.split("/", 1)[1] if model.startswith("openai/") else model
    for name in (model, bare):
        if name in KNOWN_RETIREMENTS:
            return KNOWN_RETIREMENTS[name]
        value = (registry.get(name) or {}).get("deprecation_date")
        if value:
            return date.fromisoformat(value)
    return None


def retirement_warning(model: str, *, today: date) -> str | None:
    when = deprecation_date(model)
    if when is None:
        return None
    if when <= today:
        return f"{model} was retired on {when:%Y-%m-%d}; it answers model_not_found."
    return f"{model} is deprecated and retires on {when:%Y-%m-%d}."
