"""Idempotency-Key as the README says: checked, exact, bound to its body, and curable failures run again."""
import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from generation.models import GenerationAttempt, GenerationRequest

pytestmark = pytest.mark.django_db
PRIMARY = "openai/gpt-image-2"


def generate(api, key, **body):
    return api.post("/v1/generate", {"prompt": "chest", "size": 16, **body}, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.parametrize("key", ["", " ", "a b", "k" * 256, "clé", "tab\there", "nul\x00"],
                         ids=["empty", "space", "inner-space", "256-chars", "utf8", "tab", "nul"])
def test_it_refuses_a_key_that_is_not_1_to_255_visible_ascii(api, key):
    response = generate(api, key)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and "Idempotency-Key" in error["message"]
    assert not GenerationRequest.objects.exists()


def test_it_accepts_255_visible_ascii_characters_and_stores_only_their_hash(api):
    key = "".join(chr(c) for c in range(0x21, 0x7F)) * 3  # every visible character, 282 long
    key = key[:255]

    response = generate(api, key)

    assert response.status_code == 200
    row = GenerationRequest.objects.get()
    assert row.idempotency_key == hashlib.sha256(key.encode()).hexdigest()
    assert key[:40] not in row.idempotency_key


def test_two_long_keys_sharing_their_first_200_characters_are_two_keys(api):
    first = generate(api, "k" * 200 + "a" * 55)
    second = generate(api, "k" * 200 + "b" * 55)

    assert first.status_code == second.status_code == 200
    assert first.json()["id"] != second.json()["id"]
    assert GenerationRequest.objects.count() == 2


def test_the_same_key_with_a_different_body_is_422(api):
    first = generate(api, "order-1")

    response = generate(api, "order-1", prompt="sword")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert GenerationRequest.objects.count() == 1
    assert GenerationRequest.objects.get().id == GenerationRequest.objects.get(pk=first.json()["id"]).id


def test_the_same_key_with_the_same_body_spelled_differently_is_a_repeat(api):
    first = generate(api, "order-2", style="pixel")  # the default, written out
    again = api.post("/v1/generate", {"size": 16, "prompt": "chest"}, format="json", HTTP_IDEMPOTENCY_KEY="order-2")

    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]


def test_a_repeat_after_a_rate_limit_generates_again_under_the_same_key(api, upstream, timeline, configure):
    configure(model=PRIMARY, max_retries=0, max_wait=0, timeout=10)
    upstream.limit, upstream.window = 0, 30.0
    refused = generate(api, "order-3")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limit_exceeded"
    upstream.limit = None
    timeline.now += 31  # the 429 paused the model for everyone until its 30 s hint passed

    response = generate(api, "order-3")

    assert response.status_code == 200
    assert response.json()["id"] != refused.json()["request_id"]
    first = GenerationRequest.objects.get(pk=refused.json()["request_id"])
    assert (first.status, first.error_code, first.idempotency_key) == ("failed", "rate_limit_exceeded", "")
    second = GenerationRequest.objects.get(pk=response.json()["id"])
    assert second.idempotency_key == hashlib.sha256(b"order-3").hexdigest()
    again = generate(api, "order-3")
    assert again.json()["id"] == str(second.id)
    assert GenerationRequest.objects.count() == 2


def test_a_repeat_after_a_refused_prompt_replays_it(api, upstream, configure):
    configure(model=PRIMARY, max_retries=0)
    upstream.policy_word = "forbidden"
    first = generate(api, "order-4", prompt="forbidden thing")

    again = generate(api, "order-4", prompt="forbidden thing")

    assert first.status_code == again.status_code == 422
    assert again.json()["error"]["code"] == "content_policy_violation"
    assert GenerationRequest.objects.count() == 1 and len(upstream.calls) == 1


def unfinished(api, user, key: str, *, age: float) -> GenerationRequest:
    generate(api, key)  # a finished row with the key and this body, then made to look in flight
    row = GenerationRequest.objects.get()
    taken = timezone.now() - timedelta(seconds=age)
    GenerationRequest.objects.filter(pk=row.pk).update(
        status="running", image_png=None, created_at=taken, deadline=row.deadline - row.created_at + taken)
    return row


def test_a_repeat_of_an_unfinished_request_is_202_with_its_location(api, user, configure):
    configure(total_timeout=60)
    row = unfinished(api, user, "order-5", age=1)

    response = generate(api, "order-5")

    assert response.status_code == 202
    assert response["Location"] == f"/v1/generations/{row.pk}"
    assert response.json()["status"] == "running"


def test_a_repeat_of_a_request_its_worker_lost_generates_again_once_it_is_reaped(api, user, configure, settings,
                                                                                 caplog):
    configure(total_timeout=5)
    settings.SPRITE_INTERRUPT_GRACE = 0
    lost = unfinished(api, user, "order-6", age=10)

    # Taking a request does not reap: the repeat gets the row as it stands ...
    assert generate(api, "order-6").status_code == 202
    # ... until a read (or the reaper's schedule) finishes it.
    assert api.get(f"/v1/generations/{lost.pk}").json()["error"]["code"] == "interrupted"
    response = generate(api, "order-6")

    assert response.status_code == 200 and response.json()["id"] != str(lost.pk)
    lost.refresh_from_db()
    assert (lost.status, lost.error_code, lost.idempotency_key) == ("failed", "interrupted", "")
    assert "request_interrupted" in [getattr(r, "event", "") for r in caplog.records]
    assert GenerationAttempt.objects.filter(request_id=response.json()["id"]).count() == 1


@pytest.mark.parametrize(("created", "run_async", "action"), [
    (True, False, "run"),
    (True, True, "queue"),
    (False, False, "answer"),  # a repeat is answered with the first request's row, sync or async
    (False, True, "answer"),
])
def test_taking_a_request_decides_from_whether_its_row_is_new_and_async(created, run_async, action):
    from generation.engine.services import decide

    assert decide(created=created, run_async=run_async).value == action
