"""Aggregates over request rows, for /v1/metrics and the admin.

Computed by the database from the rows every worker writes, so the figures
are the service's, not one process's memory.
"""
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from .models import GenerationRequest

Status = GenerationRequest.Status


def totals(requests: QuerySet[GenerationRequest]) -> dict:
    """The seed's keys, plus what is pending, in one query."""
    row = requests.aggregate(
        total_requests=Count("pk"),
        successful_requests=Count("pk", filter=Q(status=Status.SUCCEEDED)),
        failed_requests=Count("pk", filter=Q(status=Status.FAILED)),
        retries=Coalesce(Sum("retries"), 0),
        fallbacks_used=Count("pk", filter=Q(fallback_used=True)),
        total_latency_ms=Coalesce(Sum("latency_ms"), 0),
        total_wait_ms=Coalesce(Sum("wait_ms"), 0),
        attempts=Coalesce(Sum("attempts"), 0),
    )
    row["pending_requests"] = row["total_requests"] - row["successful_requests"] - row["failed_requests"]
    return row
