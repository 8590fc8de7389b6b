"""The OpenAPI description of /v1/ beyond what drf-spectacular infers: the error shape and which
errors each endpoint answers, the headers (Idempotency-Key, Prefer, Retry-After, Location,
X-Request-ID) and the 202 flow.

Kept out of the views (OpenApiViewExtension), so that a view stays the code that runs.
"""
from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view, inline_serializer,
)
from rest_framework import serializers

from .serializers import GenerateSerializer, GenerationSerializer

SKIP = ("/v1/schema/", "/v1/docs/")

Error = inline_serializer("Error", fields={
    "error": inline_serializer("ErrorDetail", fields={
        "code": serializers.CharField(help_text="A stable code from the contract's table, e.g. `rate_limit_exceeded`."),
        "message": serializers.CharField(help_text="For people; names the fields at fault on a 400."),
        "retry_after": serializers.IntegerField(
            required=False, min_value=0, help_text="Seconds to wait before trying again; also the Retry-After header."),
    }),
    "request_id": serializers.CharField(
        help_text="The generation's id where one was recorded, else this response's X-Request-ID. Never null."),
})



def retry_after(*statuses: int) -> OpenApiParameter:
    return OpenApiParameter("Retry-After", OpenApiTypes.INT, OpenApiParameter.HEADER, response=list(statuses),
                            description="Seconds to wait before trying again (or before polling, on a 202).")


LOCATION = OpenApiParameter("Location", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200, 202],
                            description="`/v1/generations/<id>`: where this request's record is read.")

# Why each status is answered; the code in the body says which case it was.
WHEN = {
    400: "`invalid_request`: malformed JSON, or bad or missing fields (the message names them).",
    401: "`unauthorized`: missing, unknown or revoked token.",
    403: "`forbidden`: this endpoint needs a staff token, or the token's weight is 0 (paused by an administrator).",
    404: "`not_found`: no such path under /v1/, or a generation that is not yours.",
    405: "`method_not_allowed`.",
    413: "`payload_too_large`: the body is over 64 KB; refused before it is read.",
    422: "`idempotency_key_reused` (the key came with another body) or `content_policy_violation` "
         "(the provider refused the prompt).",
    429: "`throttled` (this token's own allowance) or `rate_limit_exceeded` (the provider's limits outlasted "
         "retries, fallbacks and the wait budget). Retry-After says when to try again.",
    502: "`upstream_error`: provider errors outlasted retries and fallbacks.",
    503: "`upstream_unavailable` (every model out of quota, retired or refusing our credentials), `interrupted` "
         "(the server stopped mid-request; retrying is safe) or `service_unavailable` (database down).",
    504: "`upstream_timeout`: provider timeouts outlasted retries, fallbacks and the wait budget.",
}


def errors(*statuses: int) -> dict:
    return {status: OpenApiResponse(Error, description=WHEN[status]) for status in statuses}

# The body the docs page fills in for "Try it out": readable, and valid as it stands (without it,
# Swagger UI makes one up from the bounds: a prompt generated from the regex and a 64-bit seed that
# JavaScript rounds past the maximum, which answer 400).
GENERATE_EXAMPLE = OpenApiExample("A green slime", request_only=True,
                                  value={"prompt": "green slime", "style": "pixel", "size": 64, "seed": 42})

# What generation/api/views.py accepts; anything else is a 400.
IDEMPOTENCY_KEY = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[\x21-\x7e]+$"}

GENERATE = extend_schema_view(post=extend_schema(
    operation_id="generate",
    summary="Generate a sprite",
    description=(
        "Waits for the sprite and answers 200, or an error. With `\"async\": true` (or `Prefer: respond-async`) "
        "it answers 202 at once with `Location: /v1/generations/<id>` and `Retry-After` (seconds until a poll "
        "is worth it); poll that URL until `status` is `succeeded` or `failed`. A repeat with the same "
        "`Idempotency-Key` returns the first request: 202 while it runs, its answer once finished."),
    request=GenerateSerializer,
    examples=[GENERATE_EXAMPLE],
    parameters=[
        OpenApiParameter("Idempotency-Key", IDEMPOTENCY_KEY, OpenApiParameter.HEADER,
                         description="1..255 visible ASCII characters. The same key and token return the first "
                                     "request instead of generating again; with another body, 422."),
        OpenApiParameter("Prefer", OpenApiTypes.STR, OpenApiParameter.HEADER,
                         description="`respond-async`: the same as `\"async\": true`."),
        LOCATION, retry_after(202, 429, 503),
    ],
    responses={
        200: OpenApiResponse(GenerationSerializer, description="The sprite."),
        202: OpenApiResponse(GenerationSerializer, description="Accepted (async, or still running): poll Location."),
        **errors(400, 401, 405, 413, 422, 429, 502, 503, 504),
    },
))
DETAIL = extend_schema_view(get=extend_schema(
    operation_id="generation",
    summary="One of your generations",
    description="Its record and, once `succeeded`, its image. Someone else's id answers 404, like an unknown one.",
    parameters=[retry_after(429, 503)],
    responses={200: GenerationSerializer, **errors(401, 404, 405, 429, 503)},
))
STYLES = extend_schema_view(get=extend_schema(
    operation_id="styles",
    summary="The styles and their defaults",
    auth=[],
    responses={200: inline_serializer("Styles", fields={
        "default": serializers.CharField(),
        "styles": serializers.ListField(child=serializers.DictField()),
    }), **errors(405)},
))
METRICS = extend_schema_view(get=extend_schema(
    operation_id="metrics",
    summary="Totals over every recorded request (staff token)",
    parameters=[retry_after(429, 503)],
    responses={200: OpenApiTypes.OBJECT, **errors(401, 403, 405, 429, 503)},
))


OpenAIError = inline_serializer("OpenAIError", fields={
    "error": inline_serializer("OpenAIErrorDetail", fields={
        "message": serializers.CharField(),
        "type": serializers.CharField(help_text="OpenAI's error type for the status, e.g. `rate_limit_error`."),
        "param": serializers.CharField(allow_null=True, help_text="The request field at fault, if any."),
        "code": serializers.CharField(allow_null=True, help_text="Our code, as on /v1/generate."),
    }),
    "request_id": serializers.CharField(),
})


def openai_errors(*statuses: int) -> dict:
    return {status: OpenApiResponse(OpenAIError, description=WHEN.get(status, "`request_in_progress`: the "
            "first request with this Idempotency-Key is still running; ask again after Retry-After."))
            for status in statuses}


IMAGES = extend_schema_view(post=extend_schema(
    operation_id="images_generations",
    summary="OpenAI's Images API (for the official SDKs and LiteLLM)",
    description="OpenAI's body, with our sprite fields as extra body fields; `model` names a style or is "
                "ignored. Answers OpenAI's shape, errors included.",
    request=OpenApiTypes.OBJECT,
    examples=[OpenApiExample("A green slime", request_only=True,
                             value={"prompt": "green slime", "size": "64x64", "response_format": "b64_json"})],
    parameters=[OpenApiParameter("Idempotency-Key", IDEMPOTENCY_KEY, OpenApiParameter.HEADER),
                retry_after(409, 429, 503)],
    responses={200: OpenApiTypes.OBJECT, **openai_errors(400, 401, 405, 409, 413, 422, 429, 502, 503, 504)},
))
MODELS = extend_schema_view(get=extend_schema(
    operation_id="models", summary="The styles, as OpenAI's model list",
    parameters=[retry_after(429)], responses={200: OpenApiTypes.OBJECT, **openai_errors(401, 405, 429)}))
MODEL = extend_schema_view(get=extend_schema(
    operation_id="model", summary="One style, as an OpenAI model",
    parameters=[retry_after(429)], responses={200: OpenApiTypes.OBJECT, **openai_errors(401, 404, 405, 429)}))


class BearerAuthScheme(OpenApiAuthenticationExtension):
    target_class = "generation.api.auth.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "An API token: `python manage.py create_api_token USERNAME`."}


def _described(target: str, decorator):
    class Extension(OpenApiViewExtension):
        target_class = target

        def view_replacement(self):
            return decorator(type(self.target_class.__name__, (self.target_class,), {}))

    Extension.__name__ = f"{target.rsplit('.', 1)[1]}Schema"
    return Extension


GenerateViewSchema = _described("generation.api.views.GenerateView", GENERATE)
GenerationDetailViewSchema = _described("generation.api.views.GenerationDetailView", DETAIL)
StylesViewSchema = _described("generation.api.views.StylesView", STYLES)
MetricsViewSchema = _described("generation.api.views.MetricsView", METRICS)
ImagesViewSchema = _described("generation.api.openai_compat.ImagesGenerationsView", IMAGES)
ModelsViewSchema = _described("generation.api.openai_compat.ModelsView", MODELS)
ModelDetailViewSchema = _described("generation.api.openai_compat.ModelDetailView", MODEL)


def only_the_api(endpoints, **kwargs):
    """The schema describes the plugin API; the schema and docs pages are not part of it."""
    return [e for e in endpoints if e[0].startswith("/v1/") and not e[0].startswith(SKIP)]


def add_request_id_headers(result, generator, **kwargs):
    """X-Request-ID: accepted on every request, answered on every response."""
    parameter = {"in": "header", "name": "X-Request-ID", "required": False,
                 "description": "Your own id for this request (1..200 visible ASCII characters) to find it in "
                                "our logs; anything else is replaced by one we make.",
                 "schema": {"type": "string"}}
    result.setdefault("components", {}).setdefault("headers", {})["X-Request-ID"] = {
        "description": "Your X-Request-ID, or the one we made. Our log lines for this request carry it.",
        "required": True, "schema": {"type": "string"}}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            operation.setdefault("parameters", []).append(parameter)
            for response in operation.get("responses", {}).values():
                response.setdefault("headers", {})["X-Request-ID"] = {"$ref": "#/components/headers/X-Request-ID"}
    return result
