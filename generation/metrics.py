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

# The fair share, per model and token (the token's prefix: a bounded label, at most
# pacing.MAX_TOKENS_SHOWN tokens per model, the most active first).
FAIR_WAITING = Gauge("sprite_fair_waiting_requests", "Requests of a token waiting for a model's quota now "
                     "(holds for clients told to come back included).", ["model", "token"],
                     multiprocess_mode="mostrecent")
FAIR_OLDEST = Gauge("sprite_fair_oldest_wait_seconds", "How long a token's oldest waiting request has waited.",
                    ["model", "token"], multiprocess_mode="mostrecent")
FAIR_SERVED = Gauge("sprite_fair_served_last_10m", "A token's calls to a model in the last ten minutes.",
                    ["model", "token"], multiprocess_mode="mostrecent")
FAIR_SHARE = Gauge("sprite_fair_share_last_10m", "A token's share (0..1) of a model's calls in the last ten minutes.",
                   ["model", "token"], multiprocess_mode="mostrecent")
_fair_labels: set[tuple[str, str]] = set()


def record_fair(model: str, tokens) -> None:
    """Each token's place at `model` (`pacing.TokenRow`s); a token gone since the last scrape reads 0."""
    now = set()
    for row in tokens:
        labels = {"model": model, "token": row.prefix}
        FAIR_WAITING.labels(**labels).set(row.waiting + row.held)
        FAIR_OLDEST.labels(**labels).set(row.oldest if row.waiting + row.held else 0)
        FAIR_SERVED.labels(**labels).set(row.served)
        FAIR_SHARE.labels(**labels).set(row.share)
        now.add((model, row.prefix))
    for gone in {labels for labels in _fair_labels if labels[0] == model} - now:
        for gauge in (FAIR_WAITING, FAIR_OLDEST, FAIR_SERVED, FAIR_SHARE):
            gauge.labels(*gone).set(0)
    _fair_labels.difference_update({labels for labels in _fair_labels if labels[0] == model})
    _fair_labels.update(now)


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
