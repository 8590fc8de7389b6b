"""A row is finished once: whichever of the request loop and the reaper gets there first keeps its
verdict, and the other changes nothing (README "When things break"). The race of issue 15: the
reaper marks a running request interrupted, a repeat under the same Idempotency-Key generates
again, then the original's upstream call answers."""
import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from generation.engine import jobs, reaper
from generation.engine.generator import generator
from generation.models import GenerationAttempt, GenerationRequest
from tests.test_resilience import events

pytestmark = pytest.mark.django_db
PRIMARY = "openai/gpt-image-2"


def generate(api, key, **body):
    return api.post("/v1/generate", {"prompt": "chest", "size": 16, **body}, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.fixture
def during_first_call(monkeypatch):
    """Runs `action` while the first upstream call is on the wire, then lets the call answer."""
    real_call, actions = generator.call_model, []

    def call(request, *, timeout):
        if actions:
            actions.pop()()
        return real_call(request, timeout=timeout)

    monkeypatch.setattr(generator, "call_model", call)
    return actions.append


def test_the_original_answering_after_the_reaper_and_a_repeat_changes_nothing(api, upstream, configure, settings,
                                                                              during_first_call, caplog):
    configure(model=PRIMARY, max_retries=0, total_timeout=60)
    settings.SPRITE_INTERRUPT_GRACE = 0
    seen = {}

    def reaper_then_repeat():
        original = GenerationRequest.objects.get()
        # The reaper, run as if past the original's deadline, finds it still running: lost.
        seen["reaped"] = reaper.reap(now=original.deadline + timedelta(seconds=1))
        seen["repeat"] = generate(api, "order-9")  # generates again under the same key

    during_first_call(reaper_then_repeat)

    first = generate(api, "order-9")

    repeat = seen["repeat"]
    assert repeat.status_code == 200 and repeat.json()["status"] == "succeeded"
    # The original's client is told what the row says: interrupted, safe to retry. Not a 500.
    assert first.status_code == 503 and first.json()["error"]["code"] == "interrupted"
    original = GenerationRequest.objects.get(pk=first.json()["request_id"])
    assert seen["reaped"] == [str(original.pk)]
    assert (original.status, original.error_code, original.idempotency_key, original.image_png) == (
        "failed", "interrupted", "", None)
    newer = GenerationRequest.objects.get(pk=repeat.json()["id"])
    assert (newer.status, newer.idempotency_key) == ("succeeded", hashlib.sha256(b"order-9").hexdigest())
    # Both calls reached the upstream (the repeat was told it may generate again), and each has its attempt.
    assert [c.status for c in upstream.calls] == [200, 200]
    assert GenerationAttempt.objects.filter(request=original).count() == 1
    lost = [f for n, f in events(caplog) if n == "finish_lost"]
    assert [(f["request_id"], f["by"], f["status"], f["error_code"], f["tried"]) for f in lost] == [
        (str(original.pk), "generation", "failed", "interrupted", "succeeded")]
    assert "generation_succeeded" not in [n for n, f in events(caplog) if f.get("request_id") == str(original.pk)]


def test_the_reaper_coming_second_leaves_the_verdict(api, upstream, configure, settings):
    configure(model=PRIMARY, max_retries=0)
    settings.SPRITE_INTERRUPT_GRACE = 0
    done = generate(api, "order-10").json()
    row = GenerationRequest.objects.get(pk=done["id"])

    assert reaper.interrupt([row.pk], reaper.Reason.DEADLINE_PASSED) == []
    assert reaper.reap(now=row.deadline + timedelta(hours=1)) == []
    row.refresh_from_db()
    assert (row.status, row.error_code) == ("succeeded", "")


def test_a_job_whose_row_the_reaper_finished_after_it_was_read_generates_nothing(user, upstream, configure,
                                                                                 caplog):
    configure(model=PRIMARY)
    row = GenerationRequest.objects.create(user=user, prompt="late", style="pixel", size=16, status="queued",
                                           options={"transparent": True, "colors": 8, "outline": True},
                                           deadline=timezone.now() + timedelta(seconds=60))
    read_by_the_job = GenerationRequest.objects.get(pk=row.pk)  # still queued, as the job read it
    reaper.interrupt([row.pk], reaper.Reason.WORKER_DIED)

    answered = generator.run(read_by_the_job)

    assert (answered.status, answered.error_code, answered.attempts) == ("failed", "interrupted", 0)
    assert upstream.calls == []
    assert [(f["by"], f["error_code"]) for n, f in events(caplog) if n == "finish_lost"] == [("claim", "interrupted")]


def test_a_job_that_starts_past_its_deadline_times_out_without_calling(user, upstream, configure, caplog):
    configure(model=PRIMARY, total_timeout=900)  # today's setting does not matter: the row's deadline does
    row = GenerationRequest.objects.create(user=user, prompt="late", style="pixel", size=16, status="queued",
                                           options={"transparent": True, "colors": 8, "outline": True},
                                           deadline=timezone.now() - timedelta(seconds=1))

    jobs.run_generation(str(row.pk))

    row.refresh_from_db()
    assert (row.status, row.error_code, row.attempts) == ("failed", "upstream_timeout", 0)
    assert upstream.calls == [] and not GenerationAttempt.objects.filter(request=row).exists()
    assert [f["error_code"] for n, f in events(caplog) if n == "generation_failed"] == ["upstream_timeout"]
