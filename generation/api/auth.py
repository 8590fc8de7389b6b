"""Bearer tokens (djangorestframework-api-key's hashed keys, tied to a user)."""
from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework_api_key.permissions import KeyParser

from ..models import ApiToken

# Writing last_used_at on every request would make every request a write;
# once a minute is precise enough for an admin deciding what to revoke.
LAST_USED_RESOLUTION = timedelta(minutes=1)
WEIGHT_ZERO = "This token's weight is 0: an administrator has paused its requests (README \"Fair share\")."


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
        if token.weight == 0:
            raise exceptions.PermissionDenied(WEIGHT_ZERO)
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return "Bearer"

