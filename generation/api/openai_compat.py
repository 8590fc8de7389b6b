"""OpenAI's Images API in front of our generator, for clients that already speak it.

`POST /v1/images/generations` takes OpenAI's body (our sprite fields ride along
as extra body fields), runs the same service as `/v1/generate` (one row, the
same retries, pacing and budgets), and answers in OpenAI's shapes, errors
included, so the official SDKs and LiteLLM work with `base_url` pointed here.

`model` is mapped: a style name from `GET /v1/models` (= `GET /v1/styles`)
picks that style; any other name (`gpt-image-1`, `dall-e-3`, ...) is ignored,
so a client hard-wired to OpenAI's model names still works. Which upstream
model draws is the operator's setting, never the client's.
"""
import base64
import math
import re

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from ..engine import services
from ..engine.idempotency import IdempotencyKeyReused
from ..engine.spec import SpriteSpec
from ..error_codes import message_of, retry_after_of, status_of
from ..models import GenerationRequest
from ..styles import STYLES
from .bodies import TakesBody
from .errors import GenerationError, exception_handler
from .serializers import GenerateSerializer
from .views import idempotency_key

Status = GenerationRequest.Status

# Our own fields a client may send as extra body fields; `timeout` and any later
# field join once GenerateSerializer has them, so bounds live in one place.
SPRITE_FIELDS = ("style", "colors", "transparent", "outline", "seed", "max_wait", "timeout")
# OpenAI's fields that mean nothing for a sprite: accepted so stock clients work, then dropped.
IGNORED_FIELDS = ("user", "quality", "moderation", "output_compression")
OPENAI_FIELDS = ("prompt", "n", "size", "response_format", "model", "background", "output_format", "stream")
DEFAULT_SIZE = "64x64"
# ASCII digits only: str.isdigit() and int() also take "²" (a 500) and Arabic-Indic "٦٤" (read as 64).
_SIZE = re.compile(r"([0-9]{1,4})x([0-9]{1,4})")
_EXTRAS = tuple(name for name in SPRITE_FIELDS if name in GenerateSerializer().fields)

# OpenAI's error `type` by status: the names its SDKs give their exceptions.
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 409: "conflict_error", 422: "unprocessable_entity_error",
          429: "rate_limit_error"}
# Our loop has already retried and fallen back before answering these; the SDK's own
# retries (2 by default) would only triple the upstream calls for the same outcome.
_NO_CLIENT_RETRY = {"upstream_error", "upstream_unavailable", "upstream_timeout"}


def _invalid(field: str, message: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({field: [message]})


def _square_size(value) -> int:
    """'64x64' -> 64; the range is GenerateSerializer's to check, so its message names the bounds."""
    if value == "auto":
        value = DEFAULT_SIZE
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise _invalid("size", 'must be a string "WxH" in ASCII digits, for example "64x64"')
    width, height = (int(side) for side in match.groups())
    if width != height:
        raise _invalid("size", f"sprites are square: {value!r} has a different width and height")
    return width


def generate_body(data) -> dict:
    """OpenAI's request body as /v1/generate's, or ValidationError naming the first bad field."""
    if not isinstance(data, dict):
        raise exceptions.ParseError("The body must be a JSON object.")
    unknown = sorted(set(data) - set(OPENAI_FIELDS) - set(IGNORED_FIELDS) - set(_EXTRAS))
    if unknown:
        raise _invalid(unknown[0][:60], f"unknown parameter {unknown[0][:60]!r}")
    n = data.get("n")
    if n is not None and (isinstance(n, bool) or n != 1):
        raise _invalid("n", "only n=1 is supported: one sprite per request")
    if data.get("response_format", "b64_json") not in ("b64_json", None):
        raise _invalid("response_format", "only 'b64_json' is supported: sprites are not hosted")
    if data.get("output_format", "png") != "png":
        raise _invalid("output_format", "only 'png' is supported")
    if data.get("stream") not in (None, False):
        raise _invalid("stream", "streaming is not supported")
    body = {name: data[name] for name in ("prompt", *_EXTRAS) if name in data}
    body["size"] = _square_size(DEFAULT_SIZE if data.get("size") is None else data["size"])
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise _invalid("model", "must be a string")
    if model in STYLES:
        if body.setdefault("style", model) != model:
            raise _invalid("model", f"model {model!r} is a style and disagrees with style {body['style']!r}")
    background = data.get("background", "auto")
    if background not in ("auto", "transparent", "opaque", None):
        raise _invalid("background", "must be 'transparent', 'opaque' or 'auto'")
    if background in ("transparent", "opaque"):
        if body.setdefault("transparent", background == "transparent") != (background == "transparent"):
            raise _invalid("background", f"background {background!r} disagrees with transparent")
    return body


def _first_field(detail) -> str | None:
    if isinstance(detail, dict):
        return next((str(key) for key in detail if key != "non_field_errors"), None)
    return None


def openai_exception_handler(exc, context):
    """Our catalogue's status, code, message and Retry-After, in OpenAI's error shape."""
    response = exception_handler(exc, context)
    if response is None:
        return None
    ours = response.data["error"]
    param = _first_field(exc.detail) if isinstance(exc, exceptions.ValidationError) else None
    error_type = _TYPES.get(response.status_code, "server_error" if response.status_code >= 500 else "invalid_request_error")
    response.data = {"error": {"message": ours["message"], "type": error_type, "param": param, "code": ours["code"]},
                     "request_id": response.data["request_id"]}
    try:
        # The SDKs read retry-after-ms first; both say the same.
        response["retry-after-ms"] = str(round(float(response["Retry-After"]) * 1000))
    except (KeyError, ValueError):
        pass  # no Retry-After (or not in seconds): nothing to repeat
    if ours["code"] in _NO_CLIENT_RETRY:
        response["x-should-retry"] = "false"
    return response


class OpenAIView(APIView):
    def get_exception_handler(self):
        return openai_exception_handler


def _answer(row: GenerationRequest) -> dict:
    return {
        "created": math.floor(row.created_at.timestamp()),
        "data": [{"b64_json": base64.b64encode(bytes(row.image_png)).decode("ascii")}],
        "background": "transparent" if row.options.get("transparent") else "opaque",
        "output_format": "png",
        # Ours, beyond OpenAI's: what /v1/generate answers about the same row.
        "id": str(row.id), "model": row.model_used, "style": row.style, "seed": row.options.get("seed"),
        "attempts": row.attempts, "retries": row.retries, "fallback_used": row.fallback_used,
        "latency_ms": row.latency_ms, "cost_usd": None if row.cost_usd is None else float(row.cost_usd),
    }


class ImagesGenerationsView(TakesBody, OpenAIView):
    def post(self, request):
        serializer = GenerateSerializer(data=generate_body(request.data))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        data.pop("async", None)
        try:
            row = services.submit(token=request.auth, spec=SpriteSpec(**data), idempotency_key=idempotency_key(request))
        except IdempotencyKeyReused:
            code = "idempotency_key_reused"
            raise GenerationError(status_code=status_of(code), code=code, message=message_of(code)) from None
        if row.status in (Status.QUEUED, Status.RUNNING):
            # An earlier request with this Idempotency-Key is still working. OpenAI clients cannot
            # poll a 202; a 409 with Retry-After makes their SDK wait and ask again.
            code = "request_in_progress"
            raise GenerationError(status_code=status_of(code), code=code, message=message_of(code),
                                  request_id=row.id, wait=retry_after_of(code))
        if row.status == Status.FAILED:
            raise GenerationError(status_code=status_of(row.error_code), code=row.error_code,
                                  message=row.error_message, request_id=row.id, wait=row.retry_after)
        return Response(_answer(row))


def _model(style) -> dict:
    return {"id": style.name, "object": "model", "created": 0, "owned_by": "sprite-backend",
            "description": style.description}


class ModelsView(OpenAIView):
    def get(self, request):
        return Response({"object": "list", "data": [_model(style) for style in STYLES.values()]})


class ModelDetailView(OpenAIView):
    def get(self, request, model_id: str):
        if model_id not in STYLES:
            raise exceptions.NotFound(f"The model {model_id[:100]!r} does not exist; see GET /v1/models.")
        return Response(_model(STYLES[model_id]))
