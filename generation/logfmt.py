"""One line per event: `event key=value ...`, so `grep rate_limited_retrying` works."""
import logging

# Attributes every LogRecord has; anything else came in through `extra=`.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class EventFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        # `event` repeats the message; the rest came in through `extra=`.
        fields = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in _STANDARD and k != "event")
        return f"{line} {fields}" if fields else line


def event_fields(record: logging.LogRecord) -> dict:
    """The `extra=` fields of a record, for tests and tools that read events."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}
