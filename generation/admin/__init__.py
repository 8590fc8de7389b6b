"""The admin, registered when Django autodiscovers `generation.admin`: one module per concern."""
from . import lockout  # noqa: F401  (connects the login-failure log events)
from .limits import ModelRateLimitAdmin
from .requests import AttemptInline, GenerationRequestAdmin
from .settings import GenerationSettingsAdmin
from .tokens import ApiTokenAdmin

__all__ = ["ApiTokenAdmin", "AttemptInline", "GenerationRequestAdmin", "GenerationSettingsAdmin", "ModelRateLimitAdmin"]
