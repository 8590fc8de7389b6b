"""Admin login failures and lockouts as log events (django-axes does the counting and locking).

One line each, with the username as a quoted, escaped literal: it is whatever the client
typed, and a raw newline in it would forge a second log line.
"""
import ipaddress
import logging

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

logger = logging.getLogger("generation")
USERNAME_CHARS = 150  # Django's own limit on a username


def client_address(request) -> str:
    """The client's address as django-axes counts it: behind ADMIN_PROXY_COUNT proxies, the
    one the outermost proxy saw (each appends to X-Forwarded-For; entries further left are
    whatever the client wrote, so never trusted), else the connection's own."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.ADMIN_PROXY_COUNT
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if not proxies or len(hops) < proxies:
        return remote
    try:
        return str(ipaddress.ip_address(hops[-proxies]))
    except ValueError:
        return remote


def _client(request, username) -> dict:
    address = getattr(request, "axes_ip_address", None) or request.META.get("REMOTE_ADDR", "")
    return {"username": ascii(str(username or "")[:USERNAME_CHARS]), "ip_address": address}


@receiver(user_login_failed, dispatch_uid="generation.admin_login_failed")
def log_login_failure(sender, credentials=None, request=None, **kwargs) -> None:
    if request is None:
        return
    logger.warning("admin_login_failed", extra={
        "event": "admin_login_failed", **_client(request, (credentials or {}).get("username")),
        "failures": getattr(request, "axes_failures_since_start", None), "limit": settings.AXES_FAILURE_LIMIT})


@receiver(user_locked_out, dispatch_uid="generation.admin_locked_out")
def log_lockout(sender, request=None, username=None, **kwargs) -> None:
    logger.warning("admin_locked_out", extra={
        "event": "admin_locked_out", **_client(request, username),
        "cooloff_minutes": round(settings.AXES_COOLOFF_TIME.total_seconds() / 60)})
