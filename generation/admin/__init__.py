"""The admin, registered when Django autodiscovers `generation.admin`: one module per concern."""
from django.contrib import admin

from . import lockout  # noqa: F401  (connects the login-failure log events)
from .limits import ModelRateLimitAdmin
from .requests import AttemptInline, GenerationRequestAdmin
from .settings import GenerationSettingsAdmin
from .tokens import ApiTokenAdmin

# The service's name where Django's admin says "Django administration".
admin.site.site_header = "Sprite backend"
admin.site.site_title = "Sprite backend admin"
admin.site.index_title = "Generation: settings, requests, tokens and rate limits"
# The pages' tables need the width on a laptop screen; the breadcrumbs and the index lead everywhere.
admin.site.enable_nav_sidebar = False

__all__ = ["ApiTokenAdmin", "AttemptInline", "GenerationRequestAdmin", "GenerationSettingsAdmin", "ModelRateLimitAdmin"]
