"""What `/metrics` reads at scrape time, in the web process and in the async worker alike."""
from prometheus_client.core import GaugeMetricFamily

from ..config import effective_settings
from ..metrics import FairCollector, PacerCollector
from ..quota import pacing
from . import heartbeats, jobs
from .generator import release_db_connection


def pacer_states() -> list:
    """(model, limit per minute, remaining, paused until) for each paced model, from the shared pacer."""
    try:
        rows = []
        for row in pacing.model_states(effective_settings().models):
            state = row.state
            per_minute = state.limit * 60 / state.period if state.limit is not None and state.period else None
            rows.append((row.model, per_minute, state.remaining, state.paused_until))
        return rows
    finally:
        # The worker's exporter scrapes in a thread of its own, which nothing else would make give
        # its connection back to the pool.
        release_db_connection()


pacer_collector = PacerCollector(pacer_states)


def fair_shares() -> list:
    """(model, its tokens' rows) for each paced model, from the shared pacer (README "Fair share")."""
    try:
        return [(shares.model, shares.tokens) for shares in pacing.model_shares(effective_settings().models)]
    finally:
        release_db_connection()


fair_collector = FairCollector(fair_shares)


class QueueCollector:
    """The async queue as Redis holds it now: workers listening, messages not yet done."""

    def collect(self):
        workers, messages = heartbeats.count(), jobs.waiting()
        families = []
        if workers is not None:
            families.append(GaugeMetricFamily("sprite_async_workers", "Async workers whose heartbeat is live.",
                                              value=workers))
        if messages is not None:
            families.append(GaugeMetricFamily(
                "sprite_async_queue_messages",
                "Async jobs not yet done: queued, waiting for their pacer slot, or running.", value=messages))
        return families


queue_collector = QueueCollector()
