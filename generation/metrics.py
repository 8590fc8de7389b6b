"""Prometheus metrics: what `/metrics` shows, and the calls the engine makes to record it.

Under gunicorn, each worker process writes its values to files in PROMETHEUS_MULTIPROC_DIR
(gunicorn.conf.py sets it up), and `/metrics` sums every process's files; with it unset (tests,
`manage.py` commands) the values live in this process's registry. prometheus_client reads the
variable when it is imported, so it must be in the environment before the app loads.

The async worker (`manage.py worker`) is one process with many threads: it serves its own
registry on SPRITE_WORKER_METRICS_PORT, and Prometheus sums it with the web's (docs/WORKER.md).
The pacer's gauges are read from the shared pacer at scrape time (`PacerCollector`).
"""
import os

from collections.abc import Callable, Iterable

from django.db import DatabaseError
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import REGISTRY, multiprocess
from prometheus_client.core import GaugeMetricFamily

# Requests wait on providers for seconds to minutes (SPRITE_LITELLM_TOTAL_TIMEOUT is at most 900 s).
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 900)
WAIT_BUCKETS = (0, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)

REQUESTS = Counter("sprite_requests", "Generation requests answered, by HTTP status and code (`ok` on success).",
                   ["status", "code"])
LATENCY = Histogram("sprite_request_latency_seconds", "Time from taking a request to its answer.",
                    buckets=LATENCY_BUCKETS)
WAIT = Histogram("sprite_request_wait_seconds", "Time one request spent waiting between upstream attempts.",
                 buckets=WAIT_BUCKETS)
UPSTREAM_CALLS = Counter("sprite_upstream_calls", "Calls to image models, by model and outcome.", ["model", "outcome"])
def record_request(status: int, code: str, latency_s: float, wait_s: float) -> None:
    """One finished generation request: its HTTP status, its error code ('' or 'ok' when it succeeded)."""
    REQUESTS.labels(status=str(status), code=code or "ok").inc()
    LATENCY.observe(max(latency_s, 0.0))
    WAIT.observe(max(wait_s, 0.0))


def record_attempt(model: str, outcome: str) -> None:
    """One upstream call and how it ended (a GenerationAttempt outcome)."""
    UPSTREAM_CALLS.labels(model=model, outcome=outcome).inc()


class PacerCollector:
    """The pacer's gauges, read from the shared pacer when scraped, so they are never stale.

    `states` returns (model, limit per minute, remaining, paused until) for each paced model,
    None for what the pacer does not know; the engine passes it in (this module is below it)."""

    def __init__(self, states: Callable[[], Iterable[tuple[str, float | None, float | None, float | None]]]):
        self.states = states

    def collect(self):
        limit = GaugeMetricFamily("sprite_pacer_limit_requests_per_minute", "A model's known request limit per minute.",
                                  labels=["model"])
        remaining = GaugeMetricFamily("sprite_pacer_remaining_requests",
                                      "Requests a model's quota allows before its reset.", labels=["model"])
        paused = GaugeMetricFamily("sprite_pacer_paused_until_seconds",
                                   "Unix time until which a model is paused after a 429 (0: not paused).",
                                   labels=["model"])
        try:
            rows = list(self.states())
        except DatabaseError:  # the request counters still answer while the database is away
            rows = []
        for model, per_minute, left, until in rows:
            if per_minute is not None:
                limit.add_metric([model], per_minute)
            if left is not None:
                remaining.add_metric([model], left)
            paused.add_metric([model], until or 0)
        return [limit, remaining, paused]


class FairCollector:
    """The fair share per model and token, read when scraped: waiting requests (holds for clients
    told to come back included), the oldest wait, and calls and share over the last ten minutes.

    `shares` returns (model, rows) with each row's `prefix`, `waiting`, `held`, `oldest`, `served`
    and `share`; the token label is the token's prefix, at most a bounded number per model."""

    def __init__(self, shares: Callable[[], Iterable]):
        self.shares = shares

    def collect(self):
        labels = ["model", "token"]
        waiting = GaugeMetricFamily("sprite_fair_waiting_requests", "Requests of a token waiting for a model's "
                                    "quota now (holds for clients told to come back included).", labels=labels)
        oldest = GaugeMetricFamily("sprite_fair_oldest_wait_seconds",
                                   "How long a token's oldest waiting request has waited.", labels=labels)
        served = GaugeMetricFamily("sprite_fair_served_last_10m", "A token's calls to a model in the last ten minutes.",
                                   labels=labels)
        share = GaugeMetricFamily("sprite_fair_share_last_10m",
                                  "A token's share (0..1) of a model's calls in the last ten minutes.", labels=labels)
        try:
            found = list(self.shares())
        except DatabaseError:  # the request counters still answer while the database is away
            found = []
        for model, rows in found:
            for row in rows:
                at = [model, row.prefix]
                waiting.add_metric(at, row.waiting + row.held)
                oldest.add_metric(at, row.oldest if row.waiting + row.held else 0)
                served.add_metric(at, row.served)
                share.add_metric(at, row.share)
        return [waiting, oldest, served, share]


def exposition(*collectors) -> tuple[bytes, str]:
    """The text `/metrics` answers: every process's values under gunicorn, else this process's,
    then what `collectors` read at scrape time."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        registry = REGISTRY
    scraped = CollectorRegistry()
    for collector in collectors:
        scraped.register(collector)
    return generate_latest(registry) + generate_latest(scraped), CONTENT_TYPE_LATEST
