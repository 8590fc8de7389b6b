"""Async generations on RQ and Redis: queued at once, run by a worker, read back by id."""
import os

import pytest

from generation.models import GenerationRequest

# Jobs are enqueued on commit (django-rq), so these tests need real commits.
pytestmark = pytest.mark.django_db(transaction=True)
needs_redis = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (CI sets it; .ci/run runs this)")


@pytest.fixture
def queue(settings):
    import django_rq

    settings.REDIS_URL = os.environ["REDIS_URL"]
    queue = django_rq.get_queue("default")
    queue.empty()
    yield queue
    queue.empty()


def work_off_the_queue() -> None:
    import django_rq
    from rq.worker import SimpleWorker

    # SimpleWorker runs jobs in this process, so it shares the test's database transaction.
    django_rq.get_worker("default", worker_class=SimpleWorker).work(burst=True)


@needs_redis
def test_it_queues_an_async_request_and_a_worker_completes_it(api, queue):
    response = api.post("/v1/generate", {"prompt": "purple mushroom", "size": 32, "async": True}, format="json")

    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    assert len(queue) == 1
    location = response["Location"]

    work_off_the_queue()

    done = api.get(location).json()
    assert done["status"] == "succeeded"
    assert done["images"][0]["width"] == 32 and done["images"][0]["b64_png"]
    assert GenerationRequest.objects.count() == 1


def test_it_serves_an_async_request_itself_when_redis_is_down(api, settings, monkeypatch, caplog):
    import django_rq
    from redis.exceptions import ConnectionError as RedisConnectionError

    def refuse(*args, **kwargs):
        raise RedisConnectionError("Connection refused")

    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    monkeypatch.setattr(django_rq, "get_queue", refuse)

    response = api.post("/v1/generate", {"prompt": "coin", "async": True}, format="json")

    assert response.status_code == 202
    assert api.get(response["Location"]).json()["status"] == "succeeded"
    assert "queue_unavailable" in [getattr(r, "event", "") for r in caplog.records]


@needs_redis
def test_the_workers_log_lines_carry_the_queuing_requests_id(api, queue, caplog):
    from generation.logfmt import RequestIdFilter

    caplog.handler.addFilter(RequestIdFilter())
    response = api.post("/v1/generate", {"prompt": "coin", "async": True}, format="json", HTTP_X_REQUEST_ID="plugin-1")

    work_off_the_queue()

    done = next(r for r in caplog.records if getattr(r, "event", "") == "generation_succeeded")
    assert (done.request_id, done.http_request_id) == (response.json()["id"], "plugin-1")


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

    work_off_the_queue()

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
