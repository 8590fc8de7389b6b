"""The generation settings, written once: name, environment variable, kind, default, bounds, help.

Read by `sprite_backend/settings.py` (environment defaults), the settings model (validators and
help texts), `config.py` (the effective values), the admin's form (bounds), the API's
serializer (bounds of the per-request `max_wait` and `timeout`) and a test that holds the
README's table to it. No Django imports: settings.py imports this before Django is set up.
`parse_rate` holds the throttle rate to the same standard: refused at start-up, not per request.
"""
import re
from dataclasses import dataclass

# Plain decimal numbers only: Python's float() also takes "1e1", "nan", "inf" and "1_0",
# and django-environ dropped letters ("2m" ran as 2.0). None of those is what an operator meant.
_INT = re.compile(r"[+-]?[0-9]{1,9}")
_FLOAT = re.compile(r"[+-]?(?:[0-9]{1,9}(?:\.[0-9]{0,15})?|\.[0-9]{1,15})")
# DRF reads only a rate's first letter ("10/mxyz" is ten a minute) and fails on every request when
# the rest is wrong: rates are read once, at start-up, and kept to words an operator means.
_RATE = re.compile(r"([1-9][0-9]{0,8})/(s|sec|second|m|min|minute|h|hour|d|day)")
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")


def number_problem(text: str, *, whole: bool) -> str | None:
    """Why a number's text is not a plain decimal in ASCII digits, or None when it is."""
    if (_INT if whole else _FLOAT).fullmatch(text.strip()):
        return None
    return f"is not a plain {'whole ' if whole else ''}number"


@dataclass(frozen=True)
class Tunable:
    name: str
    env: str
    kind: str  # "bool", "str", "models", "int" or "float"
    default: object
    help: str
    low: float | None = None
    high: float | None = None
    unit: str = ""  # shown after a value and after the bounds, e.g. "s"

    @property
    def bounded(self) -> bool:
        return self.low is not None

    @property
    def help_text(self) -> str:
        """The model field's help: what it means, and its bounds when it has some."""
        if not self.bounded:
            return self.help
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.help} ({self.low:g}–{self.high:g}{unit})."

    def number_problem(self, text: str) -> str | None:
        return number_problem(text, whole=self.kind == "int")

    def parse(self, raw: str):
        """The value of an environment string, or ValueError saying why not."""
        text = raw.strip()
        if self.kind == "bool":
            # Any unknown word would otherwise read as False: a typo must not silently disable a feature.
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError("is not a boolean (true/false)")
        if self.kind == "str":
            return text
        if self.kind == "models":
            return tuple(m.strip() for m in text.split(",") if m.strip())
        if problem := self.number_problem(text):
            raise ValueError(problem)
        value = (int if self.kind == "int" else float)(text)
        if not self.low <= value <= self.high:
            raise ValueError(f"is outside {self.low:g}..{self.high:g}")
        return value


TUNABLES: tuple[Tunable, ...] = (
    Tunable("enabled", "SPRITE_LITELLM_ENABLED", "bool", True,
            "Retries and fallbacks on or off; off means one attempt on the primary model."),
    # The default depends on OPENAI_API_KEY; settings.py fills it in.
    Tunable("model", "SPRITE_LITELLM_MODEL", "str", "", "Primary model, a LiteLLM model string."),
    Tunable("max_retries", "SPRITE_LITELLM_MAX_RETRIES", "int", 3,
            "Retries per model after the first attempt", 0, 10),
    Tunable("retry_delay", "SPRITE_LITELLM_RETRY_DELAY", "float", 1.0,
            "Initial backoff; retry i waits at most delay × 2**i", 0.1, 60, "s"),
    Tunable("fallback_models", "SPRITE_LITELLM_FALLBACK_MODELS", "models", (),
            "Comma-separated models tried in order after the primary."),
    Tunable("max_wait", "SPRITE_LITELLM_MAX_WAIT", "float", 30.0,
            "Most seconds one request may spend waiting between attempts, in total", 0, 600, "s"),
    Tunable("timeout", "SPRITE_LITELLM_TIMEOUT", "float", 120.0, "Timeout of one upstream call", 1, 600, "s"),
    Tunable("total_timeout", "SPRITE_LITELLM_TOTAL_TIMEOUT", "float", 180.0,
            "Most seconds one request may take from arrival to answer: upstream calls, waits and queueing "
            "for a slot together", 5, 900, "s"),
)
BY_NAME: dict[str, Tunable] = {t.name: t for t in TUNABLES}
NAMES: tuple[str, ...] = tuple(BY_NAME)
# A request's own `timeout` shortens TOTAL_TIMEOUT for it: down to one second (one call's
# shortest timeout), never past TOTAL_TIMEOUT's own upper bound.
REQUEST_TIMEOUT_LOW = BY_NAME["timeout"].low


def parse_rate(text: str) -> str:
    """A throttle rate as DRF reads it ("120/min"), or ValueError saying what one looks like."""
    rate = text.strip()
    if not _RATE.fullmatch(rate):
        raise ValueError("is not a rate: N/second, N/minute, N/hour or N/day (or s, m, h, d), "
                         "N a positive whole number")
    return rate
