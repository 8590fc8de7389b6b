"""The admin, registered when Django autodiscovers `generation.admin`: one module per concern."""
from .requests import AttemptInline, GenerationRequestAdmin
from .settings import GenerationSettingsAdmin
from .tokens import ApiTokenAdmin

__all__ = ["ApiTokenAdmin", "AttemptInline", "GenerationRequestAdmin", "GenerationSettingsAdmin"]
