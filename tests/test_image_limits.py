"""Upstream images over 4096 x 4096 pixels (or over the base64 bound) are refused as `malformed`
from their header, before their pixels are decoded. Memory figures: bench/image_memory.py."""
import base64
import struct
import zlib

import pytest

from generation.models import GenerationAttempt
from generation.providers import edge
from tests import upstream as fake_upstream

PRIMARY, OFFLINE = "openai/gpt-image-2", "offline/pixel-sprite"


def png_header_only(width: int, height: int) -> str:
    """A PNG that declares its size and carries no pixels: decoding it fully would fail."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")).decode()


def test_it_refuses_an_image_over_the_ceiling_from_its_header():
    refused = edge.decode_image(png_header_only(8000, 8000))

    assert refused.outcome == "malformed" and refused.image is None
    assert refused.message == "the model returned a 8000x8000 image, over 4096x4096"


@pytest.mark.parametrize(("width", "height"), [(4097, 16), (16, 4097)])
def test_either_side_over_the_ceiling_is_refused(width, height):
    refused = edge.decode_image(png_header_only(width, height))

    assert refused.outcome == "malformed" and f"{width}x{height} image" in refused.message


def test_an_image_at_the_ceiling_gets_decoded():
    # Within the ceiling the pixels are read, so a header-only PNG now fails as unreadable.
    unreadable = edge.decode_image(png_header_only(4096, 4096))
    assert unreadable.outcome == "malformed" and "unreadable image" in unreadable.message
    assert edge.decode_image(base64.b64encode(fake_upstream.make_png(32)).decode()).image.size == (32, 32)


def test_it_refuses_base64_over_its_bound_before_decoding_it(monkeypatch):
    monkeypatch.setattr(edge, "MAX_BASE64_CHARS", 1000)

    refused = edge.decode_image("A" * 1004)

    assert refused.outcome == "malformed" and "1004 base64 characters, over 1000" in refused.message


@pytest.mark.django_db
def test_a_huge_upstream_image_is_malformed_and_the_next_model_serves(api, upstream, configure, monkeypatch):
    configure(model=PRIMARY, fallback_models=OFFLINE, max_retries=0)
    monkeypatch.setattr(fake_upstream, "_png_b64", lambda size: png_header_only(8000, 8000))

    response = api.post("/v1/generate", {"prompt": "giant", "size": 16}, format="json")

    assert response.status_code == 200 and response.json()["model"] == OFFLINE
    first = GenerationAttempt.objects.order_by("number").first()
    assert (first.outcome, first.http_status) == ("malformed", 200)
    assert first.message == "the model returned a 8000x8000 image, over 4096x4096"
