"""API tokens: created with the raw key shown once, revoked for good."""
from django.contrib import admin, messages
from django.http import HttpRequest
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from .. import stats
from ..models import ApiToken
from .formatting import usd


@admin.register(ApiToken)
class ApiTokenAdmin(APIKeyModelAdmin):
    """The package's admin shows the raw key once, on create; revoking cannot be undone."""

    # What an admin looks for first, narrow enough for a 1280 px screen; expiry is on each token's page.
    list_display = ["name", "prefix", "user", "created", "last_used_at", "weight", "spend", "state"]
    list_filter = [*APIKeyModelAdmin.list_filter, "revoked"]
    search_fields = [*APIKeyModelAdmin.search_fields, "user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), "last_used_at")

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).annotate(spend_usd=stats.token_spend())

    @admin.display(description="Spend (USD)", ordering="spend_usd")
    def spend(self, obj: ApiToken) -> str:
        return usd(obj.spend_usd)

    @admin.display(description="state", ordering="revoked")
    def state(self, obj: ApiToken) -> str:
        # Words, not the admin's red cross on every token that is not revoked, the healthy case.
        return "revoked" if obj.revoked else "expired" if obj.has_expired else "active"

    @admin.action(description="Revoke selected API tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset) -> None:
        tokens = list(queryset.filter(revoked=False))
        for token in tokens:
            token.revoked = True
            token.save(update_fields=["revoked"])
            self.log_change(request, token, "Revoked.")
        self.message_user(request, f"Revoked {len(tokens)} API token(s).", messages.SUCCESS)


# The package's own concrete APIKey model is unused: tokens here belong to users.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)
