"""Upstream answers bounded while they are read (README "Budgets"): an answer that trickles is cut
at the call's timeout on the wall clock, one past 32 MB is cut there, and a picture too large
is refused from its header. Through LiteLLM for real, against tests/upstream.py.
Memory and wall-clock figures: bench/hostile_upstream.py, bench/image_memory.py."""
import base64
import io

import pytest
from PIL import Image

from generation.models import GenerationAttempt, GenerationRequest
from generation.providers import edge, transport
from generation.sprites import WORK_SIDE
from tests.test_image_limits import png_header_only
from tests.test_resilience import events

pytestmark = pytest.mark.django_db
PRIMARY, OFFLINE = "openai/gpt-image-2", "offline/pixel-sprite"


def generate(api, **body):
    return api.post("/v1/generate", {"prompt": "slow slime", "size": 16, **body}, format="json")


def test_an_answer_that_trickles_is_cut_at_the_calls_timeout(api, upstream, configure, caplog):
    # A byte every 0.1 s: each read gets a byte well within any per-read timeout, and the whole
    # answer would take minutes. The call has 1 s.
    configure(model=PRIMARY, max_retries=0, timeout=1)
    upstream.trickle = 0.1

    response = generate(api)

    assert response.status_code == 504 and response.json()["error"]["code"] == "upstream_timeout"
    (attempt,) = GenerationAttempt.objects.all()
    assert (attempt.outcome, attempt.http_status, attempt.cost_usd) == ("timeout", None, None)
    assert attempt.message == "no full answer within the call's 1 s"
    assert upstream.wait_cut_short(1) == 1  # the upstream saw us hang up mid-answer


def test_a_trickle_is_cut_at_what_remains_of_the_request(api, upstream, configure):
    configure(model=PRIMARY, max_retries=0, timeout=600)

    upstream.trickle, upstream.trickle_bytes = 0.1, 200  # headers and a start, then a byte at a time
    response = generate(api, timeout=1)

    assert response.status_code == 504
    assert GenerationAttempt.objects.get().outcome == "timeout"


def test_an_answer_past_32_mb_is_cut_there_and_is_a_clean_502(api, upstream, configure, caplog):
    configure(model=PRIMARY, max_retries=0)
    upstream.answer_bytes = 200 * 1024 * 1024

    response = generate(api)

    assert response.status_code == 502 and response.json()["error"]["code"] == "upstream_error"
    (attempt,) = GenerationAttempt.objects.all()
    assert (attempt.outcome, attempt.cost_usd) == ("malformed", None)
    assert attempt.message == f"the answer passed {transport.MAX_ANSWER_BYTES} bytes and was not read further"
    assert upstream.wait_cut_short(1) == 1
    assert [f["error_code"] for n, f in events(caplog) if n == "generation_failed"] == ["upstream_error"]


def test_the_bound_counts_the_bytes_read(api, upstream, configure, monkeypatch):
    configure(model=PRIMARY, max_retries=0)
    monkeypatch.setattr(transport, "MAX_ANSWER_BYTES", 64 * 1024)
    upstream.png = png_of(64, noisy=True)  # about 16 KB of base64

    assert generate(api).status_code == 200
    upstream.png, upstream.answer_bytes = None, 65 * 1024
    assert generate(api).status_code == 502
    assert GenerationAttempt.objects.order_by("started_at").last().outcome == "malformed"


def test_a_huge_picture_is_refused_from_its_header_and_the_next_model_serves(api, upstream, configure):
    configure(model=PRIMARY, fallback_models=OFFLINE, max_retries=0)
    upstream.png = base64.b64decode(png_header_only(100_000, 100_000))

    response = generate(api)

    assert response.status_code == 200 and response.json()["model"] == OFFLINE
    first = GenerationAttempt.objects.order_by("number").first()
    assert (first.outcome, first.http_status) == ("malformed", 200)
    assert first.message.startswith("the model returned an image over 4096x4096: Image size (10000000000 pixels)")


def test_a_picture_in_another_format_is_refused_from_its_header(api, upstream, configure):
    configure(model=PRIMARY, max_retries=0)
    gif = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(gif, format="GIF")
    upstream.png = gif.getvalue()

    response = generate(api)

    assert response.status_code == 502
    assert GenerationAttempt.objects.get().message.startswith("the model returned an unreadable image")


def png_of(side: int, *, noisy: bool = False) -> bytes:
    import numpy as np

    if noisy:
        pixels = np.random.default_rng(1).integers(0, 256, (side, side, 3), dtype=np.uint8)
    else:
        pixels = np.zeros((side, side, 3), np.uint8)
        pixels[side // 4: 3 * side // 4, side // 4: 3 * side // 4] = (200, 40, 40)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def test_a_large_picture_within_the_ceiling_is_thinned_before_the_pipeline(api, upstream, configure):
    configure(model=PRIMARY, max_retries=0)
    upstream.png = png_of(4096)

    reply = edge.decode_image(base64.b64encode(upstream.png).decode())
    response = generate(api, size=32)

    assert reply.image.size == (4096 // 3, 4096 // 3) and max(reply.image.size) <= WORK_SIDE
    assert response.status_code == 200
    assert GenerationRequest.objects.get().status == "succeeded"


def test_a_picture_a_model_draws_is_not_thinned():
    assert edge.decode_image(base64.b64encode(png_of(WORK_SIDE)).decode()).image.size == (WORK_SIDE, WORK_SIDE)
