"""Prometheus metrics: what `/metrics` shows, and the calls the engine makes to record it.

Under gunicorn, each worker process writes its values to files in PROMETHEUS_MULTIPROC_DIR
(gunicorn.conf.py sets it up), and `/metrics` sums every process's files; with it unset (tests,
`manage.py` commands) the values live in this process's registry. prometheus_client reads the
variable when it is imported, so it must be in the environment before the app loads.
"""
import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import REGISTRY, multiprocess

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
# A gauge across processes: the value most recently set by any of them.
PACER_LIMIT = Gauge("sprite_pacer_limit_requests_per_minute", "A model's known request limit per minute.",
                    ["model"], multiprocess_mode="mostrecent")
PACER_REMAINING = Gauge("sprite_pacer_remaining_requests", "Requests a model's quota allows before its reset.",
                        ["model"], multiprocess_mode="mostrecent")
PACER_PAUSED_UNTIL = Gauge("sprite_pacer_paused_until_seconds",
                           "Unix time until which a model is paused after a 429 (0: not paused).",
                           ["model"], multiprocess_mode="mostrecent")


def record_request(status: int, code: str, latency_s: float, wait_s: float) -> None:
    """One finished generation request: its HTTP status, its error code ('' or 'ok' when it succeeded)."""
    REQUESTS.labels(status=str(status), code=code or "ok").inc()
    LATENCY.observe(max(latency_s, 0.0))
    WAIT.observe(max(wait_s, 0.0))


def record_attempt(model: str, outcome: str) -> None:
    """One upstream call and how it ended (a GenerationAttempt outcome)."""
    UPSTREAM_CALLS.labels(model=model, outcome=outcome).inc()


def record_pacer(model: str, *, limit: float | None, remaining: float | None, paused_until: float | None) -> None:
    """The pacer's state for one model; a value it does not know is left as last set."""
    if limit is not None:
        PACER_LIMIT.labels(model=model).set(limit)
    if remaining is not None:
        PACER_REMAINING.labels(model=model).set(remaining)
    PACER_PAUSED_UNTIL.labels(model=model).set(paused_until or 0)


def exposition() -> tuple[bytes, str]:
    """The text `/metrics` answers: every process's values under gunicorn, else this process's."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
