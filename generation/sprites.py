"""From a model's picture to a game sprite.

Image models return large pictures that only look like pixel art: soft edges,
a flat background with an anti-aliased halo, noise inside every "pixel".
`make_sprite` recovers the sprite: background out, subject trimmed, one real
pixel per cell (the cell's most common colour, never an average, so no new
in-between colours), a small palette with no dithering, an optional outline.
"""
from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageChops

# What an upstream picture may be, checked from its header before any pixel is decoded. Sprites
# are at most 256 px and models draw at most 1536 px a side; past 4096 one picture costs hundreds
# of MB to decode (8000 x 8000 took a worker from 284 MB to 3 GB with 4 requests).
PICTURE_FORMATS = ("PNG", "JPEG", "WEBP")
MAX_PICTURE_SIDE = 4096
# The sprite pipeline works on at most this many pixels a side: a larger picture is thinned by a
# whole factor (nearest neighbour, so no new colours) as soon as it is decoded, so that one
# request's memory stays bounded (bench/image_memory.py). Every picture a model draws is within it.
WORK_SIDE = 1536


class PictureRefused(ValueError):
    """The upstream's bytes are not a picture we decode (format, size, or corrupt data)."""


def open_picture(data: bytes) -> Image.Image:
    """Decode an upstream picture within bounds: refused from its header when it is not PNG, JPEG or
    WebP or is over MAX_PICTURE_SIDE a side; thinned to at most WORK_SIDE a side once decoded."""
    try:
        image = Image.open(io.BytesIO(data), formats=PICTURE_FORMATS)  # reads the header only
    except Image.DecompressionBombError as exc:  # Pillow's own ceiling, far above ours, also from the header
        raise PictureRefused(f"an image over {MAX_PICTURE_SIDE}x{MAX_PICTURE_SIDE}: {exc}") from exc
    except Exception as exc:  # not an image, or not one of ours
        raise PictureRefused(f"an unreadable image: {exc}") from exc
    width, height = image.size
    if width > MAX_PICTURE_SIDE or height > MAX_PICTURE_SIDE:
        raise PictureRefused(f"a {width}x{height} image, over {MAX_PICTURE_SIDE}x{MAX_PICTURE_SIDE}")
    factor = math.ceil(max(width, height) / WORK_SIDE)
    if factor > 1 and image.format == "JPEG":
        image.draft(image.mode, (width // factor, height // factor))  # JPEG decodes at a reduced scale itself
    try:
        image.load()
    except Exception as exc:  # truncated or corrupt pixel data
        raise PictureRefused(f"an unreadable image: {exc}") from exc
    factor = math.ceil(max(image.size) / WORK_SIDE)
    if factor > 1:
        image = image.resize((max(1, image.width // factor), max(1, image.height // factor)),
                             Image.Resampling.NEAREST)
    return image


# Samples per cell side when voting for a cell's colour; more only costs time.
_MAX_CELL_SAMPLES = 16
# A halo pixel is a blend that is still mostly background; this multiple of the
# flood tolerance catches blends of roughly 70 % background and more.
_HALO_TOLERANCE_FACTOR = 3
_HALO_PX = 2
_WHITE = (255, 255, 255)


def make_sprite(image: Image.Image, *, size: int, colors: int, transparent: bool = True, outline: bool = False,
                background_tolerance: int = 24) -> Image.Image:
    """Return an RGBA `size` x `size` sprite with at most `colors` opaque colours.

    With `transparent=False` the picture keeps its background (transparent
    pixels take the corner colour, white if the corners are transparent too)
    and `outline` has no silhouette to draw.
    """
    if size < 1:
        raise ValueError("size must be at least 1")
    outline = outline and transparent and size >= 3  # an opaque picture has no silhouette; a tiny one no room
    if colors < 1 + outline:
        raise ValueError("colors must leave room for the outline colour")
    inner = size - 2 * outline  # the outline needs a free pixel on each side

    pixels = _binary_alpha(image)
    backdrop = _backdrop_colour(pixels)
    pixels = _native_pixels(pixels)
    if transparent:
        # Peel the halo only from pictures bigger than the sprite, never more than half a sprite pixel deep.
        scale = max(pixels.shape[:2]) / inner
        halo_px = min(_HALO_PX, max(1, int(scale // 2))) if scale > 1 else 0
        _clear_background(pixels, background_tolerance, halo_px)
    else:
        _packed(pixels)[pixels[..., 3] == 0] = np.array([*backdrop, 255], np.uint8).view(np.uint32)[0]

    pixels = _fit(pixels, inner)
    _reduce_palette(pixels, colors - outline)
    if outline:
        pixels = _with_outline(pixels)

    canvas = np.zeros((size, size, 4), np.uint8)
    if not transparent:
        canvas[...] = (*_nearest_colour(pixels, backdrop), 255)
    h, w = pixels.shape[:2]
    top, left = (size - h) // 2, (size - w) // 2
    canvas[top:top + h, left:left + w] = pixels
    return Image.fromarray(canvas, "RGBA")


def png_bytes(image: Image.Image) -> bytes:
    """Encode as a size-optimised PNG; same image, same bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _binary_alpha(image: Image.Image) -> np.ndarray:
    """RGBA array where every pixel is fully opaque or (0, 0, 0, 0)."""
    pixels = np.array(image.convert("RGBA"))
    clear = pixels[..., 3] < 128
    pixels[..., 3] = 255
    _packed(pixels)[clear] = 0
    return pixels


def _backdrop_colour(pixels: np.ndarray) -> tuple[int, int, int]:
    corners = [tuple(int(c) for c in pixels[y, x, :3]) for y in (0, -1) for x in (0, -1) if pixels[y, x, 3]]
    return max(corners, key=corners.count) if corners else _WHITE


def _packed(pixels: np.ndarray) -> np.ndarray:
    return pixels.view(np.uint32)[..., 0]


def _native_pixels(pixels: np.ndarray) -> np.ndarray:
    """Undo an exact nearest-neighbour upscale, so fake pixels become real ones.

    Real model output fails the test on a handful of sampled rows, cheaply.
    """
    packed = _packed(pixels)
    h, w = packed.shape
    block = math.gcd(h, w)
    for rows in (packed[:: max(1, h // 16)], packed, packed.T):
        changes = np.flatnonzero((rows[:, 1:] != rows[:, :-1]).any(axis=0)) + 1
        block = math.gcd(block, int(np.gcd.reduce(changes))) if changes.size else block
        if block == 1:
            return pixels
    return np.ascontiguousarray(pixels[::block, ::block])


def _clear_background(pixels: np.ndarray, tolerance: int, halo_px: int) -> None:
    """Make transparent the flat background reaching the corners, and its halo."""
    h, w = pixels.shape[:2]
    seeds = [(y, x) for y in (0, h - 1) for x in (0, w - 1) if pixels[y, x, 3]]
    if not seeds:
        return  # already cut out
    picture = Image.fromarray(pixels, "RGBA")
    distance: np.ndarray | None = None
    for y, x in seeds:
        if distance is not None and distance[y, x] <= tolerance:
            continue  # noise: this corner is the background colour already measured
        to_corner = _channel_distance(picture, tuple(pixels[y, x]))
        distance = to_corner if distance is None else np.minimum(distance, to_corner)
    opaque = pixels[..., 3] > 0
    background = _flood(opaque & (distance <= tolerance), seeds)
    # The halo is what anti-aliasing left between background and subject: peel
    # only pixels touching the background, so the subject's own light colours stay.
    halo_candidates = opaque & (distance <= _HALO_TOLERANCE_FACTOR * tolerance)
    for _ in range(halo_px):
        background |= _grow(background) & halo_candidates
    _packed(pixels)[background] = 0


def _channel_distance(picture: Image.Image, colour: tuple[int, ...]) -> np.ndarray:
    """Largest per-channel difference to `colour` (alpha ignored), done in C by Pillow."""
    red, green, blue, _ = ImageChops.difference(picture, Image.new("RGBA", picture.size, colour)).split()
    return np.asarray(ImageChops.lighter(ImageChops.lighter(red, green), blue))


def _grow(mask: np.ndarray) -> np.ndarray:
    """Mask plus its 4-neighbours."""
    grown = mask.copy()
    grown[1:] |= mask[:-1]
    grown[:-1] |= mask[1:]
    grown[:, 1:] |= mask[:, :-1]
    grown[:, :-1] |= mask[:, 1:]
    return grown


def _flood(mask: np.ndarray, seeds: list[tuple[int, int]]) -> np.ndarray:
    """Pixels of `mask` 4-connected to a seed.

    Works on horizontal runs rather than pixels: a flat background is a few
    thousand runs even at 1024 px, so a plain union-find over them is quick.
    """
    h, w = mask.shape
    stride = w + 1  # a False column after each row stops runs wrapping around
    padded = np.zeros((h, stride), bool)
    padded[:, :w] = mask
    flat = padded.ravel()
    bounds = np.flatnonzero(np.diff(flat, prepend=False))
    starts, ends = bounds[0::2], bounds[1::2]

    def run_at(positions: np.ndarray) -> np.ndarray:
        return np.searchsorted(starts, positions, side="right") - 1

    # Where a run touches a run in the next row; one link per overlap.
    both = (padded[:-1] & padded[1:]).ravel()
    links = np.flatnonzero(both & ~np.concatenate(([False], both[:-1])))
    parent = list(range(len(starts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in zip(run_at(links).tolist(), run_at(links + stride).tolist()):
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    seed_roots = {root(int(run_at(np.array([y * stride + x]))[0])) for y, x in seeds if mask[y, x]}
    keep = np.array([root(i) in seed_roots for i in range(len(starts))], bool)
    delta = np.zeros(flat.size + 1, np.int8)
    delta[starts[keep]] = 1
    delta[ends[keep]] = -1
    return np.cumsum(delta[:-1], dtype=np.int8).astype(bool).reshape(h, stride)[:, :w]


def _fit(pixels: np.ndarray, inner: int) -> np.ndarray:
    """Scale the subject so its longer side is `inner` pixels.

    A picture that already is a sprite of that size keeps its framing; anything
    else is trimmed to its opaque bounding box first.
    """
    if max(pixels.shape[:2]) != inner:
        opaque = pixels[..., 3] > 0
        rows, cols = np.flatnonzero(opaque.any(axis=1)), np.flatnonzero(opaque.any(axis=0))
        if rows.size == 0:
            return np.zeros((1, 1, 4), np.uint8)
        pixels = pixels[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = pixels.shape[:2]
    longest = max(h, w)
    if longest <= inner:  # already coarse enough: only whole-number nearest-neighbour upscales
        factor = inner // longest
        return np.repeat(np.repeat(pixels, factor, axis=0), factor, axis=1)
    return _mode_downscale(pixels, max(1, round(w * inner / longest)), max(1, round(h * inner / longest)))


def _mode_downscale(pixels: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    """Give each output cell the most common colour among its source pixels.

    Votes are counted per shade bucket (high 4 bits of each channel) so noise
    inside a fake pixel does not split its vote; the winner is a real colour
    from the winning bucket, never a mix.
    """
    h, w = pixels.shape[:2]
    k = min(_MAX_CELL_SAMPLES, math.ceil(max(w / out_w, h / out_h)))
    n = k * k
    sampled = np.asarray(Image.fromarray(pixels, "RGBA").resize((out_w * k, out_h * k), Image.Resampling.NEAREST))
    packed = _packed(sampled).astype(np.uint64)
    # The bucket in the high half makes a sort group each cell's pixels by bucket.
    keys = (packed & 0xF0F0F0F0) << 32 | packed
    cells = np.sort(keys.reshape(out_h, k, out_w, k).swapaxes(1, 2).reshape(-1, n), axis=1)

    bucket = cells >> 32
    new_run = np.ones(cells.shape, bool)
    new_run[:, 1:] = bucket[:, 1:] != bucket[:, :-1]
    starts = np.flatnonzero(new_run)
    lengths = np.diff(starts, append=cells.size)
    # Longest run per cell; ties go to the later run, so transparency (packed 0,
    # sorted first) wins a cell only outright.
    first_runs = np.searchsorted(starts, np.arange(len(cells)) * n)
    best = np.maximum.reduceat(lengths * n + starts % n, first_runs)
    middle = np.arange(len(cells)) * n + best % n + best // n // 2
    winners = (cells.ravel()[middle] & 0xFFFFFFFF).astype(np.uint32)
    return winners.view(np.uint8).reshape(out_h, out_w, 4)


def _reduce_palette(pixels: np.ndarray, limit: int) -> None:
    """At most `limit` opaque colours, by median cut, without dithering."""
    opaque = pixels[..., 3] > 0
    if len(np.unique(_packed(pixels)[opaque])) <= limit:
        return
    strip = Image.fromarray(pixels[opaque][np.newaxis, :, :3].copy(), "RGB")
    quantized = strip.quantize(colors=limit, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    palette = np.array(quantized.getpalette(), np.uint8).reshape(-1, 3)
    pixels[opaque, :3] = palette[np.asarray(quantized)[0]]


def _with_outline(pixels: np.ndarray) -> np.ndarray:
    """Pad by one pixel and ring the silhouette in a dark shade of its own colours."""
    h, w = pixels.shape[:2]
    out = np.zeros((h + 2, w + 2, 4), np.uint8)
    out[1:-1, 1:-1] = pixels
    solid = out[..., 3] > 0
    if solid.any():
        mean = out[solid][:, :3].mean(axis=0)
        out[_grow(solid) & ~solid] = (*(mean * 0.25).astype(np.uint8), 255)
    return out


def _nearest_colour(pixels: np.ndarray, colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """The sprite's own colour closest to `colour`, so padding adds no new colour."""
    rgb = pixels[..., :3].reshape(-1, 3).astype(int)
    return tuple(int(c) for c in rgb[np.argmin(((rgb - colour) ** 2).sum(axis=1))])
