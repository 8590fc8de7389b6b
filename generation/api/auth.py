"""Bearer tokens (djangorestframework-api-key's hashed keys, tied to a user)."""
import re
from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework_api_key.permissions import KeyParser

from ..error_codes import message_of
from ..models import ApiToken

# Writing last_used_at on every request would make every request a write;
# once a minute is precise enough for an admin deciding what to revoke.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Our keys are `prefix.secret` in letters and digits; anything outside visible ASCII (a NUL,
# which PostgreSQL cannot even compare) is no key of ours and never reaches the database.
KEY = re.compile(r"[\x21-\x7e]{1,200}")
UNKNOWN = message_of("unauthorized")
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
        if not KEY.fullmatch(key):
            raise exceptions.AuthenticationFailed(UNKNOWN)
        try:
            token = ApiToken.objects.get_from_key(key)
        except ApiToken.DoesNotExist:
            raise exceptions.AuthenticationFailed(UNKNOWN) from None
        if token.has_expired or not token.user.is_active:
            raise exceptions.AuthenticationFailed(UNKNOWN)
        if token.weight == 0:
            raise exceptions.PermissionDenied(WEIGHT_ZERO)
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return "Bearer"

