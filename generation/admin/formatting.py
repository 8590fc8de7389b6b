"""Every duration, percentage and amount the admin shows, formatted in one place.

`seconds` is also written in the settings page's script (static/generation/worst_case.js),
which recomputes the figures as the admin types; tests run both on the same values.
Both round half up on whole hundredths of the same IEEE double, so they agree to the
character: Python's own rounding is half-to-even and JavaScript's toFixed is not, which
once made 0.25 s read "0.2 s" from the server and "0.3 s" at the first keystroke.
"""
import math
from datetime import datetime, timezone
from decimal import Decimal


def seconds(value: float) -> str:
    """Seconds to at most two decimals, no trailing zeros: 7 s, 0.25 s, 59.95 s, 3600 s."""
    hundredths = math.floor(max(value, 0) * 100 + 0.5)
    whole, fraction = divmod(hundredths, 100)
    return (f"{whole}.{fraction:02d}".rstrip("0") if fraction else f"{whole}") + " s"


def duration_ms(ms: float | None) -> str:
    """A measured duration, coarser as it grows: 840 ms, 12.5 s, 3 min, 2 h 5 min."""
    if ms is None:
        return "–"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    minutes = round(ms / 1000) // 60
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"


def percent(ratio: float | None) -> str:
    return "–" if ratio is None else f"{ratio:.1%}"


def usd(amount: Decimal | float | None) -> str:
    """US dollars to four decimals (one image can cost 0.0110; the column says USD); unknown is a dash, never 0."""
    return "–" if amount is None else f"{amount:.4f}"


def utc_time(epoch: float | None) -> str:
    """A Unix time as the admin shows it (the pacer keeps wall-clock epoch seconds)."""
    if epoch is None:
        return "–"
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def pacer_row(model: str, state) -> dict:
    """One model's pacer state in words: its limit and where that came from, remaining, paused (or
    blocked, remaining 0) until, and the hint that did it."""
    if state.limit is None:
        limit = "not known yet" + (" (first call out)" if state.probing else "")
    else:
        window = f" per {seconds(state.period)}" if state.period else ""
        limit = f"{state.limit}{window} ({state.source or 'learned'})"
    if state.in_process:
        limit += "; Redis unreachable: this process's own share"
    return {"model": model, "limit": limit, "remaining": "–" if state.remaining is None else str(state.remaining),
            "paused_until": utc_time(state.paused_until), "last_429": utc_time(state.last_429),
            "why": state.why or "–",  # the provider's words: the template escapes them
            "follows": follows(state.learning), "learned": learned(state.learning)}


# What each rule (providers/learning.py) reads of the answers, in an operator's words.
RULES = {"headers": "limit, remaining and reset as stated", "refills": "limit and remaining; window from refills",
         "spacing": "429s' retry delay; limit and window from their spacing", "aimd": "nothing stated; AIMD"}


def follows(learning) -> str:
    """Whose signals the pacer follows for a model, and how: "azure: limit and remaining; window from refills"."""
    if not learning.source:
        return "–"
    rule = RULES.get(learning.rule)
    return f"{learning.source}: {rule}" if rule else learning.source


def learned(learning) -> str:
    """What the rule learned from those signals, and whether the last 429 looked like a daily quota."""
    parts = []
    if learning.limit is not None and learning.window is not None:
        parts.append(f"{learning.limit} per {seconds(learning.window)}")
    elif learning.window is not None:
        parts.append(f"window {seconds(learning.window)}")
    if learning.rate is not None:
        parts.append(f"{learning.rate:.1f} per min")
    if learning.daily_quota:
        parts.append("looks like a daily quota")
    return "; ".join(parts) or "–"


def fair_row(row) -> dict:
    """One token's place at one model (`pacing.TokenRow`) in words; the template escapes the name."""
    queued = row.waiting + row.held
    return {"token": f"{row.name} ({row.prefix})", "weight": "–" if row.weight is None else str(row.weight),
            "waiting": str(row.waiting) + (f" + {row.held} told to come back" if row.held else ""),
            "oldest": seconds(row.oldest) if queued else "–", "served": str(row.served), "share": percent(row.share)}
