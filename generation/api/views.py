import re

from django.http import HttpResponse
from rest_framework import permissions, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import metrics, stats
from ..engine import reaper, scrape, services
from ..engine.spec import SpriteSpec
from ..engine.idempotency import IdempotencyKeyReused
from ..error_codes import POLL_AFTER_SECONDS, message_of, status_of
from ..models import GenerationRequest
from ..styles import DEFAULT_STYLE, STYLES
from . import health
from .bodies import TakesBody
from .errors import GenerationError
from .serializers import GenerateSerializer, GenerationSerializer

Status = GenerationRequest.Status


def _respond(row: GenerationRequest, *, accepted: bool = False) -> Response:
    """A finished request as 200 or its error; an unfinished (or async) one as 202 + Location + Retry-After."""
    location = f"/v1/generations/{row.id}"
    if accepted or row.status in (Status.QUEUED, Status.RUNNING):
        return Response(GenerationSerializer(row).data, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": location, "Retry-After": str(POLL_AFTER_SECONDS)})
    if row.status == Status.FAILED:
        raise GenerationError(status_code=status_of(row.error_code), code=row.error_code,
                              message=row.error_message, request_id=row.id, wait=row.retry_after)
    return Response(GenerationSerializer(row).data, headers={"Location": location})


IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # 1..255 visible ASCII (README: POST /v1/generate)


def idempotency_key(request) -> str:
    """The header's value, checked before any work; "" when absent."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise ValidationError({"Idempotency-Key": ["Use 1 to 255 visible ASCII characters."]})
    return key or ""


class GenerateView(TakesBody, APIView):
    def post(self, request):
        serializer = GenerateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        run_async = data.pop("async") or "respond-async" in request.headers.get("Prefer", "")
        try:
            row = services.submit(token=request.auth, spec=SpriteSpec(**data),
                                  idempotency_key=idempotency_key(request), run_async=run_async)
        except IdempotencyKeyReused:
            raise GenerationError(status_code=status_of("idempotency_key_reused"), code="idempotency_key_reused",
                                  message=message_of("idempotency_key_reused")) from None
        return _respond(row, accepted=run_async)


class GenerationDetailView(APIView):
    def get(self, request, pk):
        row = GenerationRequest.objects.filter(pk=pk, user=request.user).first()
        if row is None:
            raise NotFound("No such generation.")
        return Response(GenerationSerializer(reaper.check(row)).data)


class StylesView(APIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes = []
    throttle_classes = []

    def get(self, request):
        return Response({"default": DEFAULT_STYLE, "styles": [s.public() for s in STYLES.values()]})


class MetricsView(APIView):
    permission_classes = [permissions.IsAdminUser]

    def get(self, request):
        return Response(stats.totals(GenerationRequest.objects.all()))



def prometheus_metrics(request):
    """Prometheus text format, summed over every gunicorn worker. Keep it off the public internet.

    The pacer's state is shared (Redis), so whichever worker is scraped reads it, at scrape time;
    only when the database answers the health probe, so that a database that is down costs a
    scrape the probe's bounded wait, not the pool's."""
    collectors = [scrape.queue_collector]
    if health.database_state() == health.OK:
        collectors[:0] = [scrape.pacer_collector, scrape.fair_collector]
    body, content_type = metrics.exposition(*collectors)
    return HttpResponse(body, content_type=content_type)
