"""What `/metrics` reads at scrape time, in the web process and in the async worker alike."""
from ..config import effective_settings
from ..metrics import PacerCollector
from . import pacing


def pacer_states():
    """(model, limit per minute, remaining, paused until) for each paced model, from the shared pacer."""
    for row in pacing.model_states(effective_settings().models):
        state = row.state
        per_minute = state.limit * 60 / state.period if state.limit is not None and state.period else None
        yield row.model, per_minute, state.remaining, state.paused_until


pacer_collector = PacerCollector(pacer_states)
