"""Properties of the sprite pipeline (generation.sprites) and the offline art (generation.procedural)."""
from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from generation.providers.procedural import draw_sprite
from generation.sprites import make_sprite, png_bytes

BACKGROUND = (246, 244, 238)


def model_picture(prompt: str = "green slime", seed: int = 7) -> Image.Image:
    """What an image model returns: fake 16 px pixels, soft edges and noise on a flat background."""
    sprite = draw_sprite(prompt, size=64, seed=seed).resize((1024, 1024), Image.Resampling.NEAREST)
    picture = Image.new("RGBA", sprite.size, (*BACKGROUND, 255))
    picture.alpha_composite(sprite)
    picture = picture.convert("RGB").filter(ImageFilter.GaussianBlur(1.5))
    noise = np.random.default_rng(seed).integers(-6, 7, (1024, 1024, 3))
    return Image.fromarray(np.clip(np.asarray(picture, int) + noise, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def picture() -> Image.Image:
    made = model_picture()
    # Checked once per module, not in every case that uses it: counting 1024² pixels is the slow part.
    assert len(opaque_colours(made)) > 64, "the colour limits below would have no work to do"
    return made


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGBA"))


def opaque_colours(image: Image.Image) -> set[tuple[int, ...]]:
    rgba = pixels(image)
    return {tuple(c) for c in rgba[rgba[..., 3] > 0][:, :3].tolist()}


def channel_distance(rgba: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    return np.abs(rgba[..., :3].astype(int) - colour).max(axis=-1)


@pytest.mark.parametrize("size", [8, 16, 33, 64, 256])
def test_it_makes_sprites_of_exactly_the_requested_size(picture: Image.Image, size: int) -> None:
    sprite = make_sprite(picture, size=size, colors=16)
    assert sprite.mode == "RGBA" and sprite.size == (size, size)


@pytest.mark.parametrize("size", [8, 16, 33, 64, 256])
def test_it_draws_sprites_of_exactly_the_requested_size(size: int) -> None:
    sprite = draw_sprite("red dragon", size=size)
    assert sprite.mode == "RGBA" and sprite.size == (size, size)


@pytest.mark.parametrize("transparent_source", [False, True])
def test_it_leaves_corners_transparent(picture: Image.Image, transparent_source: bool) -> None:
    source = draw_sprite("orange fox", size=64) if transparent_source else picture
    rgba = pixels(make_sprite(source, size=48, colors=8, transparent=True))
    assert all(rgba[y, x, 3] == 0 for y in (0, -1) for x in (0, -1))


@pytest.mark.parametrize("colors", [2, 4, 16, 64])
@pytest.mark.parametrize("outline", [False, True])
def test_it_keeps_to_the_colour_limit(picture: Image.Image, colors: int, outline: bool) -> None:
    sprite = make_sprite(picture, size=64, colors=colors, outline=outline)
    assert 1 <= len(opaque_colours(sprite)) <= colors


@pytest.mark.parametrize("colors", [2, 16])
def test_it_keeps_to_the_colour_limit_with_an_opaque_background(picture: Image.Image, colors: int) -> None:
    sprite = make_sprite(picture, size=40, colors=colors, transparent=False, outline=True)
    rgba = pixels(sprite)
    assert (rgba[..., 3] == 255).all()
    assert len(opaque_colours(sprite)) <= colors


def test_it_keeps_only_pixels_fully_opaque_or_fully_clear(picture: Image.Image) -> None:
    alpha = pixels(make_sprite(picture, size=64, colors=16, outline=True))[..., 3]
    assert set(np.unique(alpha).tolist()) == {0, 255}


def test_it_outlines_the_silhouette_in_one_dark_colour(picture: Image.Image) -> None:
    rgba = pixels(make_sprite(picture, size=64, colors=16, outline=True))
    solid = rgba[..., 3] > 0
    padded = np.pad(solid, 1)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    rim = rgba[solid & ~inner][:, :3]
    colour, count = np.unique(rim, axis=0, return_counts=True)
    outline = colour[count.argmax()]
    assert count.max() > 0.8 * len(rim) and outline.max() < 100


@pytest.mark.parametrize("prompt", ["green slime", "treasure chest", "red dragon"])
def test_it_round_trips_a_fake_pixel_upscale_exactly(prompt: str) -> None:
    original = pixels(draw_sprite(prompt, size=32, seed=3))
    upscaled = Image.fromarray(original).resize((1024, 1024), Image.Resampling.NEAREST)
    colours = len(opaque_colours(Image.fromarray(original)))
    restored = pixels(make_sprite(upscaled, size=32, colors=colours))
    assert np.array_equal(restored, original)


def test_it_round_trips_fake_pixels_of_any_colours_and_framing() -> None:
    rng = np.random.default_rng(5)
    original = rng.integers(0, 256, (32, 32, 4), dtype=np.uint8)
    original[..., 3] = 255
    original[rng.random((32, 32)) < 0.3] = 0
    original[:8, :8] = 0  # off-centre subject: the framing must survive too
    original[[0, 0, -1, -1], [0, -1, 0, -1]] = 0  # a transparent background, seen from the corners
    upscaled = Image.fromarray(original).resize((1024, 1024), Image.Resampling.NEAREST)
    restored = pixels(make_sprite(upscaled, size=32, colors=1024))
    assert np.array_equal(restored, original)


def test_it_round_trips_fake_pixels_on_an_opaque_background() -> None:
    sprite = draw_sprite("purple mushroom", size=32, seed=1)
    original = Image.new("RGBA", sprite.size, (40, 120, 60, 255))
    original.alpha_composite(sprite)
    upscaled = original.resize((1024, 1024), Image.Resampling.NEAREST)
    restored = make_sprite(upscaled, size=32, colors=64, transparent=False)
    assert np.array_equal(pixels(restored), pixels(original))


def halo_picture(subject: tuple[int, int, int]) -> Image.Image:
    """A disc drawn at 4x and downsampled: the usual 1-2 px anti-aliased ring of blends with the background."""
    big = Image.new("RGB", (2048, 2048), BACKGROUND)
    ImageDraw.Draw(big).ellipse((300, 400, 1700, 1800), fill=subject)
    return big.resize((512, 512), Image.Resampling.LANCZOS)


@pytest.mark.parametrize("size", [128, 300])
@pytest.mark.parametrize("subject", [(30, 34, 70), (200, 40, 50), (120, 200, 120)])
def test_it_removes_the_background_and_its_halo(subject: tuple[int, int, int], size: int) -> None:
    picture = halo_picture(subject)
    blends = channel_distance(np.asarray(picture.convert("RGBA")), BACKGROUND)
    assert ((blends > 24) & (blends < 48)).sum() > 100  # there is a halo a plain flood fill would leave

    rgba = pixels(make_sprite(picture, size=size, colors=8))
    opaque = rgba[..., 3] > 0
    assert opaque.sum() > 0.5 * size * size
    assert not (opaque & (channel_distance(rgba, BACKGROUND) <= 48)).any()


def test_it_makes_an_empty_sprite_from_an_empty_picture() -> None:
    sprite = make_sprite(Image.new("RGBA", (300, 200)), size=24, colors=4, outline=True)
    assert sprite.size == (24, 24) and not pixels(sprite)[..., 3].any()


def test_it_upscales_small_pictures_by_whole_pixels_only() -> None:
    small = draw_sprite("blue potion", size=10)
    bbox = small.getbbox()
    factor = 64 // max(bbox[2] - bbox[0], bbox[3] - bbox[1])
    sprite = make_sprite(small, size=64, colors=64)
    assert opaque_colours(sprite) == opaque_colours(small)  # no interpolated colours
    blocks = pixels(sprite.crop(sprite.getbbox()))[::factor, ::factor]
    assert np.array_equal(pixels(sprite.crop(sprite.getbbox())), blocks.repeat(factor, 0).repeat(factor, 1))


def test_it_refuses_a_palette_with_no_room_for_the_outline(picture: Image.Image) -> None:
    with pytest.raises(ValueError):
        make_sprite(picture, size=32, colors=1, outline=True)


def test_it_encodes_pngs_that_decode_to_the_same_pixels(picture: Image.Image) -> None:
    sprite = make_sprite(picture, size=64, colors=16)
    data = png_bytes(sprite)
    assert data.startswith(b"\x89PNG") and data == png_bytes(sprite)
    assert np.array_equal(pixels(Image.open(io.BytesIO(data))), pixels(sprite))


def test_it_draws_the_same_bytes_for_the_same_prompt_and_seed() -> None:
    first = png_bytes(draw_sprite("ice golem", size=64, seed=42))
    assert first == png_bytes(draw_sprite("ice golem", size=64, seed=42))
    assert png_bytes(draw_sprite("ice golem", size=64)) == png_bytes(draw_sprite("ice golem", size=64, seed=None))


@pytest.mark.parametrize("other", [("ice golem", 43), ("fire golem", 42), ("ice golem", None)])
def test_it_draws_different_bytes_for_a_different_prompt_or_seed(other: tuple[str, int | None]) -> None:
    prompt, seed = other
    assert png_bytes(draw_sprite(prompt, size=64, seed=seed)) != png_bytes(draw_sprite("ice golem", size=64, seed=42))


def mean_colour(image: Image.Image) -> np.ndarray:
    rgba = pixels(image)
    return rgba[rgba[..., 3] > 0][:, :3].mean(axis=0)


@pytest.mark.parametrize("prompt, channel", [
    ("green slime", 1), ("red dragon", 0), ("blue potion", 2), ("a red sword", 0), ("green bunny", 1),
])
def test_it_takes_the_main_colour_from_colour_words(prompt: str, channel: int) -> None:
    for seed in (1, 2, 3):
        mean = mean_colour(draw_sprite(prompt, size=32, seed=seed))
        others = np.delete(mean, channel)
        assert mean[channel] > 1.2 * others.max(), (prompt, seed, mean)


def test_it_makes_golden_things_gold() -> None:
    red, green, blue = mean_colour(draw_sprite("golden sword", size=32))
    assert red > 1.5 * blue and green > 1.3 * blue


def alpha_mask(prompt: str, seed: int | None = None, size: int = 32) -> bytes:
    return (pixels(draw_sprite(prompt, size=size, seed=seed))[..., 3] > 0).tobytes()


def test_it_draws_different_silhouettes_for_different_prompts() -> None:
    prompts = ["goblin", "monster", "owl", "green slime", "red slime", "ghost", "bat", "robot"]
    masks = [alpha_mask(p) for p in prompts]
    for (a, mask_a), (b, mask_b) in itertools.combinations(zip(prompts, masks), 2):
        assert mask_a != mask_b, (a, b)


@pytest.mark.parametrize("prompt", ["creature", "golden sword", "treasure chest", "green slime"])
def test_it_draws_different_silhouettes_for_different_seeds(prompt: str) -> None:
    masks = [alpha_mask(prompt, seed) for seed in range(4)]
    assert len(set(masks)) == len(masks)


@pytest.mark.parametrize("size", [8, 9, 15, 31, 64, 100, 255, 256])
@pytest.mark.parametrize("prompt", ["pink bunny", "silver shield", "fire elemental", "xyzzy"])
def test_it_draws_mirrored_sprites_at_every_size(size: int, prompt: str) -> None:
    rgba = pixels(draw_sprite(prompt, size=size))
    alpha = rgba[..., 3]
    assert rgba.shape == (size, size, 4)
    assert alpha.any() and set(np.unique(alpha).tolist()) <= {0, 255}
    assert all(alpha[y, x] == 0 for y in (0, -1) for x in (0, -1))
    assert np.array_equal(alpha > 0, alpha[:, ::-1] > 0)
