"""Bearer tokens (djangorestframework-api-key's hashed keys, tied to a user)."""
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions, throttling
from rest_framework_api_key.permissions import KeyParser

from ..models import ApiToken

# Writing last_used_at on every request would make every request a write;
# once a minute is precise enough for an admin deciding what to revoke.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class BearerKeyParser(KeyParser):
    keyword = "Bearer"


class BearerTokenAuthentication(authentication.BaseAuthentication):
    parser = BearerKeyParser()

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        key = self.parser.get(request)
        if not key:
            raise exceptions.AuthenticationFailed("Use the header `Authorization: Bearer <token>`.")
        try:
            token = ApiToken.objects.get_from_key(key)
        except ApiToken.DoesNotExist:
            raise exceptions.AuthenticationFailed("Unknown or revoked token.") from None
        if token.has_expired or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Unknown or revoked token.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return "Bearer"


class TokenRateThrottle(throttling.SimpleRateThrottle):
    """Each token's own allowance (`SPRITE_THROTTLE_RATE`), counted in the shared cache."""

    scope = "token"

    def get_rate(self) -> str:
        return settings.SPRITE_THROTTLE_RATE

    def get_cache_key(self, request, view):
        if request.auth is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
