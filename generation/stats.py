"""Aggregates over request rows, for /v1/metrics and the admin.

Computed by the database from the rows every worker writes, so the figures
are the service's, not one process's memory. Every function takes a queryset
(the admin passes its filtered changelist) and runs a fixed number of
queries, however many rows match: the admin's whole dashboard is two scans
(four on SQLite, which lacks percentile_cont).
"""
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connections
from django.db.models import (
    Aggregate, BooleanField, Count, DecimalField, ExpressionWrapper, FloatField, Max, Min, OuterRef, Q, QuerySet, Subquery, Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDay, TruncHour, TruncMinute, TruncWeek

from .models import GenerationAttempt, GenerationRequest

Status = GenerationRequest.Status
PERCENTILES = {"p50": 0.5, "p95": 0.95}


def totals(requests: QuerySet[GenerationRequest], **extra: Aggregate) -> dict:
    """The seed's keys, plus what is pending, in one query; `extra` aggregates ride along in the same scan."""
    row = requests.aggregate(
        total_requests=Count("pk"),
        successful_requests=Count("pk", filter=Q(status=Status.SUCCEEDED)),
        failed_requests=Count("pk", filter=Q(status=Status.FAILED)),
        retries=Coalesce(Sum("retries"), 0),
        fallbacks_used=Count("pk", filter=Q(fallback_used=True)),
        total_latency_ms=Coalesce(Sum("latency_ms"), 0),
        total_wait_ms=Coalesce(Sum("wait_ms"), 0),
        attempts=Coalesce(Sum("attempts"), 0),
        # Known costs only; `unpriced_requests` counts the finished ones that could not be priced.
        total_cost_usd=Coalesce(Sum("cost_usd"), Value(Decimal(0))),
        unpriced_requests=Count("pk", filter=Q(cost_usd__isnull=True, status__in=[Status.SUCCEEDED, Status.FAILED])),
        **extra,
    )
    row["pending_requests"] = row["total_requests"] - row["successful_requests"] - row["failed_requests"]
    return row


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate: the interpolated percentile of a column."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: str, fraction: float, **extra) -> None:
        # Interpolated into the SQL, so only ever a float we chose.
        super().__init__(expression, fraction=float(fraction), **extra)


def _percentiles_by_offset(requests: QuerySet[GenerationRequest], count: int) -> dict[str, float | None]:
    """percentile_cont's answer without it (SQLite): the two neighbours of each percentile, by OFFSET."""
    result: dict[str, float | None] = dict.fromkeys(PERCENTILES)
    ordered = requests.filter(latency_ms__isnull=False).order_by("latency_ms").values_list("latency_ms", flat=True)
    for name, fraction in PERCENTILES.items():
        if not count:
            continue
        position = fraction * (count - 1)
        low = math.floor(position)
        values = list(ordered[low:low + 2])
        upper = values[1] if len(values) > 1 else values[0]
        result[name] = values[0] + (position - low) * (upper - values[0])
    return result


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def overview(requests: QuerySet[GenerationRequest]) -> dict:
    """totals() with the rates, p50/p95 latency and the time span, in the same scan."""
    # Named before aggregating: inside totals(), "retries" means its Sum, not the column.
    requests = requests.order_by().alias(was_retried=ExpressionWrapper(Q(retries__gt=0), output_field=BooleanField()))
    postgres = connections[requests.db].vendor == "postgresql"
    percentiles = {name: PercentileCont("latency_ms", f) for name, f in PERCENTILES.items()} if postgres else {}
    extra = {"retried": Count("pk", filter=Q(was_retried=True)), "timed": Count("latency_ms"),
             "first": Min("created_at"), "last": Max("created_at"), **percentiles}
    row = totals(requests, **extra)
    figures = {name: row.pop(name) for name in extra}
    if not postgres:
        figures.update(_percentiles_by_offset(requests, figures["timed"]))
    finished = row["successful_requests"] + row["failed_requests"]
    return {
        "totals": row,
        **figures,
        "success_rate": _ratio(row["successful_requests"], finished),
        "retry_rate": _ratio(figures["retried"], row["total_requests"]),
        "fallback_rate": _ratio(row["fallbacks_used"], row["total_requests"]),
    }


@dataclass(frozen=True)
class Resolution:
    unit: str
    trunc: type
    step: timedelta


def resolution(first: datetime | None, last: datetime | None) -> Resolution:
    """Minutes under two hours, hours for two days, days for a quarter, weeks beyond: a chart of tens
    of bars, not thousands, nor one bar for a first hour of use."""
    span = (last - first) if first and last else timedelta(0)
    if span < timedelta(hours=2):
        return Resolution("minute", TruncMinute, timedelta(minutes=1))
    if span <= timedelta(days=2):
        return Resolution("hour", TruncHour, timedelta(hours=1))
    if span <= timedelta(days=92):
        return Resolution("day", TruncDay, timedelta(days=1))
    return Resolution("week", TruncWeek, timedelta(weeks=1))


def breakdown(requests: QuerySet[GenerationRequest], trunc: type) -> list[dict]:
    """One row per (time bucket, model, error code): few rows, from which the tables and chart are summed."""
    return list(
        requests.order_by().annotate(bucket=trunc("created_at")).values("bucket", "model_used", "error_code").annotate(
            count=Count("pk"),
            succeeded=Count("pk", filter=Q(status=Status.SUCCEEDED)),
            failed=Count("pk", filter=Q(status=Status.FAILED)),
            latency_sum=Coalesce(Sum("latency_ms"), 0),
            latency_count=Count("latency_ms"),
            retries=Coalesce(Sum("retries"), 0),
        )
    )


def _sum_by(rows: list[dict], key: str, fields: tuple[str, ...]) -> dict:
    sums: dict = defaultdict(lambda: dict.fromkeys(fields, 0))
    for row in rows:
        for name in fields:
            sums[row[key]][name] += row[name]
    return sums


def per_model(rows: list[dict]) -> list[dict]:
    """One row per model that answered last (blank: never reached a model), busiest first."""
    sums = _sum_by(rows, "model_used", ("count", "succeeded", "failed", "latency_sum", "latency_count", "retries"))
    table = [{"model_used": model, "count": s["count"], "succeeded": s["succeeded"], "failed": s["failed"],
              "avg_latency_ms": s["latency_sum"] / s["latency_count"] if s["latency_count"] else None,
              "retries": s["retries"]} for model, s in sums.items()]
    return sorted(table, key=lambda r: (-r["count"], r["model_used"]))


def failures_by_error(rows: list[dict]) -> list[dict]:
    sums = _sum_by([r for r in rows if r["failed"]], "error_code", ("failed",))
    return sorted(({"error_code": code, "count": s["failed"]} for code, s in sums.items()),
                  key=lambda r: (-r["count"], r["error_code"]))


@dataclass(frozen=True)
class Bucket:
    start: datetime
    succeeded: int = 0
    failed: int = 0
    other: int = 0  # queued or running

    @property
    def total(self) -> int:
        return self.succeeded + self.failed + self.other


def timeline(rows: list[dict], step: timedelta) -> list[Bucket]:
    """Requests per bucket by outcome, oldest first, with the empty buckets in between."""
    sums = _sum_by(rows, "bucket", ("count", "succeeded", "failed"))
    if not sums:
        return []
    buckets, start, end = [], min(sums), max(sums)
    while start <= end:
        s = sums.get(start, {"count": 0, "succeeded": 0, "failed": 0})
        buckets.append(Bucket(start, s["succeeded"], s["failed"], s["count"] - s["succeeded"] - s["failed"]))
        start += step
    return buckets


SPEND_DAYS = 31  # the most recent days listed; the filters reach further back


def spend(requests: QuerySet[GenerationRequest]) -> dict:
    """What the listed requests' upstream calls cost, per model called and per day, in one query.

    By attempt, not by request: a request that fell back paid both models.
    """
    attempts = GenerationAttempt.objects.all()
    if requests.query.where:
        # Filtered or searched: only the listed requests' calls. Unfiltered (the admin's landing
        # page), every attempt qualifies, and skipping the semi-join halves the query.
        attempts = attempts.filter(request__in=requests.order_by().values("pk"))
    rows = (attempts.order_by().annotate(day=TruncDay("started_at")).values("day", "model")
            .annotate(cost=Coalesce(Sum("cost_usd"), Value(Decimal(0))), calls=Count("pk"),
                      unpriced=Count("pk", filter=Q(cost_usd__isnull=True))))
    rows = list(rows)
    fields = ("cost", "calls", "unpriced")
    by_model = _sum_by(rows, "model", fields)
    by_day = _sum_by(rows, "day", fields)
    return {
        "spend_usd": sum((row["cost"] for row in rows), Decimal(0)),
        "spend_per_model": sorted(({"model": model, **s} for model, s in by_model.items()),
                                  key=lambda r: (-r["cost"], -r["calls"], r["model"])),
        "spend_per_day": sorted(({"day": day, **s} for day, s in by_day.items()), key=lambda r: r["day"],
                                reverse=True)[:SPEND_DAYS],
        "spend_days": len(by_day),
    }


def dashboard(requests: QuerySet[GenerationRequest]) -> dict:
    """Everything the admin's request statistics show, for any filtered queryset."""
    figures = overview(requests)
    scale = resolution(figures["first"], figures["last"])
    rows = breakdown(requests, scale.trunc)
    return {**figures, "per_model": per_model(rows), "failures_by_error": failures_by_error(rows),
            "timeline_unit": scale.unit, "timeline": timeline(rows, scale.step), **spend(requests)}


def token_spend() -> Subquery:
    """Each token's spend, for annotating a token queryset: `.annotate(spend_usd=token_spend())`."""
    per_token = (GenerationRequest.objects.filter(token=OuterRef("pk")).order_by().values("token")
                 .annotate(total=Sum("cost_usd")).values("total"))
    return Subquery(per_token, output_field=DecimalField(max_digits=14, decimal_places=8))
