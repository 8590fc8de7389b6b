"""What the resilience and budget tests do again and again: configure, call, read the log."""
from generation.logfmt import event_fields


def settings_setter(configure, **defaults):
    """configure(...) with this file's defaults under the fields a test names."""
    def apply(**fields):
        return configure(**{**defaults, **fields})

    return apply


def generate(api, **body):
    return api.post("/v1/generate", {"prompt": "green slime", "size": 16, **body}, format="json")


def events(caplog) -> list[tuple[str, dict]]:
    return [(r.event, event_fields(r)) for r in caplog.records if hasattr(r, "event")]


def heard(headers, status):
    """An OpenAI answer's `Signal`, as `providers.call_model` reads it, for tests that drive the pacer."""
    from datetime import datetime, timezone

    from generation.providers.signals import Answer, read_openai

    return read_openai(Answer(status=status, headers=headers), now=datetime.now(timezone.utc))
