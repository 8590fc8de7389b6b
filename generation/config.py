"""The effective generation settings: the admin's value, else the environment's.

Read from the database on every request (one indexed query) so that an admin
change reaches every worker on every host at once; no per-process cache can
serve a stale value.
"""
from dataclasses import dataclass, field

from django.conf import settings

from .models import GenerationSettings
from .tunables import NAMES

FIELDS = NAMES
ADMIN, ENVIRONMENT = "admin", "environment"
# "Disabled means one attempt": the admin's script reads this too, through the page's JSON.
RETRIES_WHEN_DISABLED = 0


def parse_models(text: str) -> tuple[str, ...]:
    return tuple(m.strip() for m in text.split(",") if m.strip())


@dataclass(frozen=True)
class EffectiveSettings:
    enabled: bool
    model: str
    max_retries: int
    retry_delay: float
    fallback_models: tuple[str, ...]
    max_wait: float
    timeout: float
    total_timeout: float
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def models(self) -> tuple[str, ...]:
        """Models in the order they are tried; only the primary when disabled."""
        if not self.enabled:
            return (self.model,)
        return (self.model, *(m for m in self.fallback_models if m != self.model))

    @property
    def retries_per_model(self) -> int:
        """Retries after each model's first attempt; none when disabled."""
        return self.max_retries if self.enabled else RETRIES_WHEN_DISABLED


def _admin_value(row: GenerationSettings, name: str):
    value = getattr(row, name)
    if name == "fallback_models":
        return parse_models(value) if value.strip() else None
    if name == "model":
        return value.strip() or None
    return value


def effective_settings(row: GenerationSettings | None = None) -> EffectiveSettings:
    row = row if row is not None else GenerationSettings.load()
    defaults = settings.SPRITE_GENERATION_DEFAULTS
    values, sources = {}, {}
    for name in FIELDS:
        admin = _admin_value(row, name)
        values[name] = admin if admin is not None else defaults[name]
        sources[name] = ADMIN if admin is not None else ENVIRONMENT
    return EffectiveSettings(**values, sources=sources)
