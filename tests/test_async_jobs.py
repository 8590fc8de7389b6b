"""Async generations on Dramatiq and Redis: queued at once, run by a worker, read back by id, and
deferred to their pacer slot instead of waiting in a thread. The messages are worked off in this
process (the actor called as a worker thread calls it); real worker processes are in
test_worker_processes.py."""
import os
from datetime import timedelta

import pytest
from django.utils import timezone

from generation.engine import jobs
from generation.engine.generator import generator
from generation.models import GenerationRequest, ModelRateLimit
from tests.markers import needs_redis

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(settings):
    settings.REDIS_URL = os.environ["REDIS_URL"]
    jobs.flush()
    yield jobs.broker()
    jobs.flush()


def messages(broker, queue_name: str) -> list:
    """Every message waiting on `queue_name`, taken off it (acknowledged)."""
    consumer = broker.consume(queue_name, prefetch=1000, timeout=10)
    taken = []
    try:
        while (message := next(consumer)) is not None:
            taken.append(message)
            consumer.ack(message)
    finally:
        consumer.close()
    return taken


def work_off_the_queue(broker) -> int:
    """Run every message on the queue as a worker thread would; how many ran."""
    ran = messages(broker, jobs.QUEUE)
    for message in ran:
        jobs.run_generation(*message.args, **message.kwargs)
    return len(ran)


@needs_redis
def test_it_queues_an_async_request_and_a_worker_completes_it(api, queue):
    response = api.post("/v1/generate", {"prompt": "purple mushroom", "size": 32, "async": True}, format="json")

    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    location = response["Location"]

    assert work_off_the_queue(queue) == 1

    done = api.get(location).json()
    assert done["status"] == "succeeded"
    assert done["images"][0]["width"] == 32 and done["images"][0]["b64_png"]
    assert GenerationRequest.objects.get().worker.startswith("async:")


@needs_redis
def test_a_message_delivered_twice_generates_once(api, queue):
    response = api.post("/v1/generate", {"prompt": "coin", "size": 16, "async": True}, format="json")
    [message] = messages(queue, jobs.QUEUE)

    jobs.run_generation(*message.args)
    jobs.run_generation(*message.args)  # Redis redelivers a message whose worker went quiet

    row = GenerationRequest.objects.get(pk=response.json()["id"])
    assert (row.status, row.attempts) == ("succeeded", 1)


def test_it_serves_an_async_request_itself_when_redis_is_down(api, settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nobody listens there

    response = api.post("/v1/generate", {"prompt": "coin", "async": True}, format="json")

    assert response.status_code == 202
    assert api.get(response["Location"]).json()["status"] == "succeeded"
    assert "queue_unavailable" in [getattr(r, "event", "") for r in caplog.records]
    assert not GenerationRequest.objects.get().worker.startswith("async:")  # this process ran it


@needs_redis
def test_the_workers_log_lines_carry_the_queuing_requests_id(api, queue, caplog):
    from generation.logfmt import RequestIdFilter

    caplog.handler.addFilter(RequestIdFilter())
    response = api.post("/v1/generate", {"prompt": "coin", "async": True}, format="json", HTTP_X_REQUEST_ID="plugin-1")

    work_off_the_queue(queue)

    done = next(r for r in caplog.records if getattr(r, "event", "") == "generation_succeeded")
    assert (done.request_id, done.http_request_id) == (response.json()["id"], "plugin-1")


@needs_redis
def test_a_request_whose_slot_lies_ahead_waits_in_redis_not_in_a_thread(api, queue, upstream, configure, timeline,
                                                                         monkeypatch):
    # The generator's wall clock moves with the fake timeline too.
    start, base = timeline.now, timezone.now()
    monkeypatch.setattr(generator, "now", lambda: base + timedelta(seconds=timeline.now - start))

    def on_timeline(wall: float) -> float:
        return start + wall - base.timestamp()

    model = "openai/gpt-image-2"
    configure(model=model, max_wait=120, total_timeout=300)
    ModelRateLimit.objects.create(model=model, requests_per_minute=1)  # the second call's slot: 60 s on
    first, second = (api.post("/v1/generate", {"prompt": p, "size": 16, "async": True}, format="json").json()["id"]
                     for p in ("coin", "gem"))

    assert work_off_the_queue(queue) == 2

    assert dict(GenerationRequest.objects.values_list("pk", "status")) == {
        GenerationRequest.objects.get(pk=first).pk: "succeeded", GenerationRequest.objects.get(pk=second).pk: "queued"}
    assert timeline.sleeps == []  # no thread waited for the slot
    [deferred] = messages(queue, f"{jobs.SLOT_QUEUE}.DQ")
    assert deferred.args[0] == second
    booked = deferred.args[2]
    slot = on_timeline(booked["at"])  # `at` is wall-clock time: the message may come back on another host
    assert slot - timeline.now == pytest.approx(booked["waited"]) and booked["waited"] >= 60
    # Delivered a little before its slot, so that the queue's own delay cannot make it late.
    early = booked["waited"] - jobs.DELIVER_EARLY
    assert early * 1000 <= deferred.options["eta"] - deferred.message_timestamp < (early + 1) * 1000
    assert len(upstream.calls) == 1

    timeline.now = slot - jobs.DELIVER_EARLY  # the queue delivers the message again
    jobs.run_generation(*deferred.args)

    row = GenerationRequest.objects.get(pk=second)
    assert (row.status, row.attempts, len(upstream.calls)) == ("succeeded", 1, 2)
    assert timeline.sleeps == [jobs.DELIVER_EARLY]  # the last moments before its slot, in a thread
    assert upstream.calls[1].at == pytest.approx(slot)  # sent at its slot, not before
    assert row.wait_ms == round(booked["waited"] * 1000)  # the time it spent in Redis counts against MAX_WAIT


@needs_redis
def test_a_deferral_redis_refuses_waits_in_the_thread_instead(api, queue, upstream, configure, timeline, settings):
    model = "openai/gpt-image-2"
    configure(model=model, max_wait=120, total_timeout=300)
    ModelRateLimit.objects.create(model=model, requests_per_minute=1)
    for prompt in ("coin", "gem"):
        api.post("/v1/generate", {"prompt": prompt, "size": 16, "async": True}, format="json")
    first, second = messages(queue, jobs.QUEUE)
    jobs.run_generation(*first.args)

    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # the queue goes away just as the second defers
    jobs.run_generation(*second.args)
    settings.REDIS_URL = os.environ["REDIS_URL"]

    row = GenerationRequest.objects.get(pk=second.args[0])
    assert (row.status, len(upstream.calls)) == ("succeeded", 2)
    assert len(timeline.sleeps) == 1 and timeline.sleeps[0] >= 60  # it waited for its slot here
    assert upstream.calls[1].at - upstream.calls[0].at >= 60


@needs_redis
def test_an_async_job_takes_its_turn_in_the_fair_queue_as_its_token(api, token_key, queue, upstream, pacer,
                                                                    configure):
    from generation.models import ApiToken, ModelRateLimit
    from generation.quota import pacing

    model = "openai/gpt-image-2"
    configure(model=model)
    ModelRateLimit.objects.create(model=model, requests_per_minute=5)  # a known quota: shared fairly
    ApiToken.objects.update(weight=3)
    assert api.post("/v1/generate", {"prompt": "coin", "size": 16, "async": True}, format="json").status_code == 202

    work_off_the_queue(queue)

    assert GenerationRequest.objects.get().status == "succeeded"
    _, rows = pacer.shares(pacing.pacer_key(model))
    assert [(r.token, r.served) for r in rows] == [(token_key.split(".")[0], 1)]


def test_a_request_shares_the_quota_as_its_tokens_prefix_and_weight(user):
    from generation.models import ApiToken
    from generation.quota import pacing
    from generation.quota.pacer import Claimant

    token, _ = ApiToken.objects.create_key(user=user, name="t", weight=3)
    row = GenerationRequest.objects.create(user=user, token=token, prompt="x", style="pixel", size=16, options={})
    assert pacing.claimant_of(row) == Claimant(token=token.prefix, weight=3)
    ApiToken.objects.filter(pk=token.pk).update(weight=0)  # paused after its request was accepted
    assert pacing.claimant_of(GenerationRequest.objects.get(pk=row.pk)) == Claimant(token=token.prefix, weight=1)
    token.delete()
    assert pacing.claimant_of(GenerationRequest.objects.get(pk=row.pk)) == Claimant(token="0")
