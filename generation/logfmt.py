r"""Log lines: one per event, as `event key=value ...` (so `grep rate_limited_retrying` works) or,
with LOG_FORMAT=json, one JSON object per line with the same fields.

Every line carries the HTTP request's id (X-Request-ID), from a context variable the
middleware sets: as `request_id`, or as `http_request_id` where the line already names
a generation as its `request_id` (the id a client sees in error bodies and /v1/generations/).

A record is one line whatever its values say: upstream messages, paths and prompts are
hostile, and a newline in one must not forge a line. In the text format a value with a
space, quote, `=` or backslash is written in double quotes, and anything unprintable
(newlines, U+2028, other control characters) as an escape such as `\n` or `\u2028`;
a traceback's lines follow their record indented by `  | `, so no line of it starts
where a record does.
"""
import json
import logging
from contextvars import ContextVar

# The X-Request-ID of the HTTP request this thread is serving; None outside one (a job, a command).
http_request_id: ContextVar[str | None] = ContextVar("http_request_id", default=None)

# Attributes every LogRecord has; anything else came in through `extra=` or the filter below.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class RequestIdFilter(logging.Filter):
    """Adds the HTTP request's id to every record that passes through the handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = http_request_id.get()
        if current is None:
            return True
        if getattr(record, "request_id", None) is None:
            record.request_id = current
        elif str(record.request_id) != current:
            record.http_request_id = current
        return True


def event_fields(record: logging.LogRecord) -> dict:
    """The `extra=` fields of a record, for tests and tools that read events."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_QUOTED_ESCAPES = {**_ESCAPES, '"': '\\"', "\\": "\\\\"}
_NEEDS_QUOTES = frozenset(' "=\\')


def _escaped(text: str, escapes: dict = _ESCAPES) -> str:
    """Every character that could end or fake a line (newlines, U+2028, terminal escapes) as an escape."""
    return "".join(ch if ch.isprintable() and ch not in escapes else escapes.get(ch, f"\\u{ord(ch):04x}")
                   for ch in text)


def text_value(value) -> str:
    """A field's value for a text line: bare when it is one plain word, else quoted and escaped."""
    text = str(value)
    if text and text.isprintable() and not _NEEDS_QUOTES.intersection(text):
        return text
    return f'"{_escaped(text, _QUOTED_ESCAPES)}"'


class EventFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        # The message may carry a client's path ("Not Found: /v1/...") or an upstream's words.
        record.message = _escaped(record.getMessage())
        record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        # `event` repeats the message; the rest came in through `extra=`.
        fields = " ".join(f"{k}={text_value(v)}" for k, v in event_fields(record).items() if k != "event")
        if fields:
            line = f"{line} {fields}"
        # Computed here, not taken from record.exc_text: another handler may have cached its own there.
        if record.exc_info:
            line += "\n" + _indented(self.formatException(record.exc_info))
        if record.stack_info:
            line += "\n" + _indented(self.formatStack(record.stack_info))
        return line


def _indented(text: str) -> str:
    return "\n".join(f"  | {_escaped(line)}" for line in text.splitlines())


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event, then the same fields as the text lines."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name,
                "event": record.getMessage()}
        line.update((k, v) for k, v in event_fields(record).items() if k != "event")
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        # default=str: a field of any type still gives a line; json.dumps escapes newlines, so one line stays one.
        return json.dumps(line, default=str, ensure_ascii=False)

