"""Log lines: one per event, as `event key=value ...` (so `grep rate_limited_retrying` works) or,
with LOG_FORMAT=json, one JSON object per line with the same fields.

Every line carries the HTTP request's id (X-Request-ID), from a context variable the
middleware sets: as `request_id`, or as `http_request_id` where the line already names
a generation as its `request_id` (the id a client sees in error bodies and /v1/generations/).
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


class EventFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        # `event` repeats the message; the rest came in through `extra=`.
        fields = " ".join(f"{k}={v}" for k, v in event_fields(record).items() if k != "event")
        return f"{line} {fields}" if fields else line


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

