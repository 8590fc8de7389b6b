"""The admin's Content-Security-Policy: django-csp's middleware, on the admin's pages only.

Django 5.2 has no CSP of its own. The API answers JSON and the schema viewer may need its own
policy, so the header (CONTENT_SECURITY_POLICY in settings) goes on the admin alone.
"""
from functools import cache

from csp.middleware import CSPMiddleware
from django.urls import reverse


@cache
def admin_prefix() -> str:
    return reverse("admin:index")


class AdminCSPMiddleware(CSPMiddleware):
    def process_response(self, request, response):
        if not request.path_info.startswith(admin_prefix()):
            return response
        return super().process_response(request, response)
