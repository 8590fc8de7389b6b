"""Request bodies over DATA_UPLOAD_MAX_MEMORY_SIZE (64 KiB) get 413 `payload_too_large`
before any of it is read: from the Content-Length, or, for a chunked body (which has
none), after reading at most one byte past the limit.
"""
import io

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import JsonResponse

from .errors import error_body


def _too_large(limit: int) -> JsonResponse:
    return JsonResponse(
        error_body(code="payload_too_large", message=f"The request body is over {limit // 1024} KB."), status=413)


class BodySizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        declared = request.META.get("CONTENT_LENGTH")
        if declared:
            try:
                too_large = int(declared) > limit
            except ValueError:
                return JsonResponse(error_body(code="invalid_request", message="Content-Length is not a number."),
                                    status=400)
            if too_large:
                return _too_large(limit)
        elif "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            # Django reads a body without Content-Length as empty; read it here, bounded.
            body = request.META["wsgi.input"].read(limit + 1)
            if len(body) > limit:
                return _too_large(limit)
            request.META["CONTENT_LENGTH"] = str(len(body))
            request._stream = LimitedStream(io.BytesIO(body), len(body))
        return self.get_response(request)
