"""The requests list's statistics as the page draws them: headline cards and an SVG bar chart."""
import math

from django.utils import timezone

from .. import stats
from .formatting import duration_ms, percent

CHART_WIDTH, CHART_HEIGHT, CHART_TICKS = 900, 150, 6
MAX_BAR_WIDTH = 40  # a few buckets are a few bars, not slabs filling the chart
TICK_FORMATS = {"minute": "%H:%M", "hour": "%m-%d %H:%M", "day": "%Y-%m-%d", "week": "%Y-%m-%d"}


def summary(figures: dict) -> list[tuple[str, str, str]]:
    """The headline cards: (label, figure, detail)."""
    t = figures["totals"]
    return [
        ("Requests", f"{t['total_requests']}", f"{t['pending_requests']} pending, {t['attempts']} upstream calls"),
        ("Succeeded", f"{t['successful_requests']}", f"{percent(figures['success_rate'])} of finished"),
        ("Failed", f"{t['failed_requests']}",
         f"{percent(None if figures['success_rate'] is None else 1 - figures['success_rate'])} of finished"),
        ("Retries", f"{t['retries']}", f"{percent(figures['retry_rate'])} of requests retried"),
        ("Fallbacks used", f"{t['fallbacks_used']}", f"{percent(figures['fallback_rate'])} of requests"),
        ("Latency p50 / p95", f"{duration_ms(figures['p50'])} / {duration_ms(figures['p95'])}",
         f"{duration_ms(t['total_latency_ms'])} in all"),
        ("Waiting", duration_ms(t["total_wait_ms"]), "between attempts, in all"),
    ]


def chart(buckets: list[stats.Bucket], unit: str) -> dict:
    """Stacked bars (succeeded at the bottom, failed above, pending on top) in SVG coordinates."""
    tallest = max((b.total for b in buckets), default=0)
    slot = CHART_WIDTH / max(len(buckets), 1)
    bars = []
    for index, bucket in enumerate(buckets):
        y, segments = float(CHART_HEIGHT), []
        for kind, count in (("succeeded", bucket.succeeded), ("failed", bucket.failed), ("pending", bucket.other)):
            height = CHART_HEIGHT * count / tallest if tallest else 0
            y -= height
            if count:
                segments.append({"kind": kind, "y": round(y, 2), "height": round(height, 2)})
        width = min(slot * 0.8, MAX_BAR_WIDTH)
        bars.append({"x": round(index * slot + (slot - width) / 2, 2), "width": round(width, 2), "bucket": bucket,
                     "segments": segments})
    every = max(1, math.ceil(len(buckets) / CHART_TICKS))
    ticks = [{"x": round((i + 0.5) * slot, 2), "label": f"{timezone.localtime(b.start):{TICK_FORMATS[unit]}}"}
             for i, b in enumerate(buckets) if i % every == 0]
    return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "tallest": tallest, "bars": bars, "ticks": ticks}
