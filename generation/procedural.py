"""The offline model's art: pixel sprites drawn from the words of a prompt.

A sprite is sketched on a small grid in unit coordinates where x is the
distance from the vertical axis, so every shape comes out mirrored. Keywords
pick a shape family ("sword", "slime", "chest"... else a creature) and traits
("dragon" has wings and horns), colour words pick the palette, and a seeded
generator varies proportions and edges. Shapes are resolution independent, so
the same prompt and seed give the same design at every grid size.
"""
from __future__ import annotations

import colorsys
import hashlib
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

Colour = tuple[int, int, int]

_DEFAULT_SEED = 0
_MAX_GRID = 32  # logical pixels across at large sizes; more would stop looking like pixel art
_DRAFT_GRID = 66
_RIM_GRID = 20  # below this an inner rim would leave too little colour; make_sprite can outline instead
_DRAFT_VIEW = (0.5, 1.5)  # centre y and span: wide enough for ears and horns above the unit square

_COLOUR_WORDS: dict[str, Colour] = {
    "red": (206, 46, 46), "crimson": (168, 24, 58), "orange": (238, 128, 36), "yellow": (240, 206, 52),
    "gold": (236, 182, 40), "golden": (236, 182, 40), "green": (76, 178, 62), "lime": (150, 214, 56),
    "teal": (30, 152, 142), "cyan": (60, 204, 226), "blue": (56, 98, 218), "navy": (42, 54, 132),
    "purple": (138, 62, 196), "violet": (156, 92, 226), "magenta": (214, 54, 170), "pink": (244, 130, 186),
    "brown": (142, 90, 50), "black": (54, 48, 64), "white": (238, 238, 244), "grey": (142, 144, 154),
    "gray": (142, 144, 154), "silver": (196, 202, 216), "bronze": (192, 120, 58), "copper": (196, 110, 70),
}
# Things that imply a colour, used when the prompt names no colour outright.
_THEME_COLOURS: dict[str, Colour] = {
    "fire": (240, 100, 30), "flame": (240, 100, 30), "lava": (230, 70, 30), "ice": (150, 216, 240),
    "frost": (150, 216, 240), "snow": (226, 236, 246), "skeleton": (230, 220, 192), "bone": (230, 220, 192),
    "shadow": (76, 56, 104), "poison": (140, 210, 60), "toxic": (140, 210, 60), "water": (50, 128, 222),
    "ocean": (40, 110, 200), "forest": (62, 142, 62), "leaf": (90, 170, 60), "stone": (132, 128, 122),
    "rock": (132, 128, 122), "wood": (150, 100, 56), "wooden": (150, 100, 56), "treasure": (150, 96, 52),
    "blood": (150, 20, 34), "sky": (120, 180, 240), "night": (48, 52, 110), "sun": (250, 200, 60),
    "iron": (150, 156, 170), "steel": (160, 168, 184), "metal": (150, 156, 170), "magic": (150, 96, 232),
    "arcane": (120, 90, 230), "holy": (250, 230, 150), "dark": (76, 56, 104), "ruby": (204, 30, 64),
    "emerald": (40, 180, 100), "sapphire": (40, 84, 206), "amethyst": (150, 80, 206), "diamond": (200, 236, 250),
}
_GOLD, _SILVER, _STEEL = _COLOUR_WORDS["gold"], _COLOUR_WORDS["silver"], _THEME_COLOURS["steel"]
_WOOD, _BONE, _CREAM = (128, 84, 48), (232, 222, 196), (255, 246, 226)
_INK_DARK, _GLINT = (34, 28, 44), (250, 250, 250)

_TRAITS: dict[str, str] = {
    "dragon": "horns wings muzzle", "wyvern": "wings crest muzzle", "demon": "horns wings glow",
    "devil": "horns glow", "imp": "horns wings", "bat": "wings ears", "bird": "wings", "owl": "wings ears",
    "angel": "humanoid wings", "fairy": "humanoid wings", "fox": "ears muzzle", "cat": "ears", "wolf": "ears muzzle",
    "dog": "ears muzzle", "tiger": "round_ears", "lion": "round_ears", "bear": "round_ears", "mouse": "round_ears",
    "panda": "round_ears", "bunny": "long_ears", "rabbit": "long_ears", "hare": "long_ears",
    "skeleton": "humanoid bony glow", "zombie": "humanoid", "warrior": "humanoid armored",
    "knight": "humanoid armored", "soldier": "humanoid armored", "golem": "humanoid bulky glow",
    "robot": "humanoid bulky glow antenna", "orc": "humanoid bulky", "troll": "humanoid bulky",
    "goblin": "humanoid ears", "wizard": "humanoid hat", "mage": "humanoid hat", "witch": "humanoid hat",
    "elemental": "floating flame glow", "ghost": "floating", "spirit": "floating glow",
    "wisp": "floating glow", "phantom": "floating glow",
}
# Features a creature may get by chance when its words suggest none.
_CHANCE_TRAITS = ("ears", "round_ears", "horns", "antenna", "wings", "crest")


@dataclass(frozen=True)
class _Palette:
    main: Colour
    accent: Colour | None  # a second colour word, if the prompt has one
    named: bool  # main comes from the prompt's words, not from its hash

    def main_or(self, default: Colour) -> Colour:
        """The prompt's colour, else what this kind of thing usually is (a chest is wood)."""
        return self.main if self.named else default


def draw_sprite(prompt: str, *, size: int, seed: int | None = None) -> Image.Image:
    """An RGBA `size` x `size` sprite on a transparent background.

    Deterministic: the same words (case and punctuation aside) and seed give
    the same pixels; `seed=None` means a fixed default seed.
    """
    if size < 1:
        raise ValueError("size must be at least 1")
    words = re.findall(r"\w+", prompt.lower())
    keys = set(words) | {w[:-1] for w in words if w.endswith("s")}  # "swords" draws a sword
    shape_seed = _digest("shape", _DEFAULT_SEED if seed is None else seed, *words)
    palette = _palette(words, random.Random(_digest("palette", *words)))
    draw = next((family for names, family in _FAMILIES if keys & names), _creature)

    def sketch(grid: int, view: tuple[float, float]) -> _Sketch:
        drawing = _Sketch(grid, random.Random(shape_seed), view)
        draw(drawing, palette, keys)
        return drawing

    # Draw twice with the same seed: a fine draft measures the design, so the
    # real drawing can frame it to fill the sprite whatever its proportions.
    view = sketch(_DRAFT_GRID, _DRAFT_VIEW).extent()
    return Image.fromarray(sketch(_grid(size), view).render(), "RGBA").resize((size, size), Image.Resampling.NEAREST)


def _digest(*parts: object) -> int:
    # hashlib, not hash(): Python salts str hashes per process.
    return int.from_bytes(hashlib.sha256("\x00".join(map(str, parts)).encode()).digest()[:8], "big")


def _grid(size: int) -> int:
    """Draw at native resolution up to the max grid; above it, prefer a grid that divides the size evenly."""
    if size <= _MAX_GRID:
        return size
    even_grids = range(_MAX_GRID, 19, -1)  # 32 down to 20: coarser would lose the design's detail
    return next((g for g in even_grids if size % g == 0), _MAX_GRID)


def _palette(words: list[str], rng: random.Random) -> _Palette:
    named = [_COLOUR_WORDS[w] for w in words if w in _COLOUR_WORDS]
    themed = [_THEME_COLOURS[w] for w in words if w in _THEME_COLOURS]
    picks = list(dict.fromkeys(named + themed))
    if not picks:
        return _Palette(_hsv(rng.random(), rng.uniform(0.45, 0.75), rng.uniform(0.65, 0.88)), None, named=False)
    return _Palette(picks[0], picks[1] if len(picks) > 1 else None, named=True)


def _hsv(h: float, s: float, v: float) -> Colour:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return round(r * 255), round(g * 255), round(b * 255)


def _mix(a: Colour, b: Colour, t: float) -> Colour:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore[return-value]


def _ramp(colour: Colour) -> list[Colour]:
    """Outline, shadow, base, light: shadows drift toward blue and highlights toward yellow, as pixel artists do."""
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in colour))

    def toward(target: float, amount: float) -> float:
        delta = (target - h + 0.5) % 1.0 - 0.5
        return h + max(-amount, min(amount, delta)) * (s > 0.08)

    return [
        _hsv(toward(0.70, 0.05), s * 1.1 + 0.1, v * 0.5),
        _hsv(toward(0.70, 0.025), s * 1.05, v * 0.72),
        colour,
        _hsv(toward(0.15, 0.03), s * 0.8, v * 1.15 + 0.08),
    ]


class _Sketch:
    """A mirrored drawing on a grid of inks. Shape methods return fields, <= 1 inside the shape."""

    def __init__(self, grid: int, rng: random.Random, view: tuple[float, float]) -> None:
        """`view` is the centre y and the span of the unit-coordinate square shown on the grid."""
        self.grid, self.rng = grid, rng
        # A free cell on every side leaves make_sprite room for its outline without rescaling.
        self.margin = 1 if grid >= 8 else 0
        centre_y, span = view
        self.cell = span / (grid - 2 * self.margin)  # one cell in unit coordinates
        self.top = centre_y - span / 2
        offsets = (np.arange(grid) + 0.5 - self.margin) * self.cell
        self.y, x = np.meshgrid(self.top + offsets, 0.5 - span / 2 + offsets, indexing="ij")
        self.x = np.abs(x - 0.5)
        self.min_r = 0.55 * self.cell  # thinner shapes would fall between cell centres
        self.labels = np.zeros((grid, grid), np.int16)  # 0 is empty, else 1 + index into inks
        self.strokes = np.zeros((grid, grid), np.int16)  # which paint() call last touched a cell
        self.inks: list[tuple[Colour, bool]] = []
        waves = [(rng.uniform(2, 6), rng.uniform(2, 6), rng.uniform(0, 2 * math.pi)) for _ in range(3)]
        # Smooth noise in unit coordinates: wobbly edges that depend on the seed, not on the grid size.
        self.noise = sum(np.sin(2 * math.pi * (fx * self.x + fy * self.y) + phase) for fx, fy, phase in waves) / 3

    def ink(self, colour: Colour, shaded: bool = True) -> int:
        self.inks.append((colour, shaded))
        return len(self.inks)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, power: float = 2.0) -> np.ndarray:
        rx, ry = max(rx, self.min_r), max(ry, self.min_r)
        return ((np.abs(self.x - cx) / rx) ** power + (np.abs(self.y - cy) / ry) ** power) ** (1 / power)

    def limb(self, x0: float, y0: float, x1: float, y1: float, r0: float, r1: float) -> np.ndarray:
        """A capsule from (x0, y0) to (x1, y1) whose radius tapers from r0 to r1 (0 makes a spike)."""
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((self.x - x0) * dx + (self.y - y0) * dy) / max(dx * dx + dy * dy, 1e-9), 0.0, 1.0)
        distance = np.hypot(self.x - x0 - t * dx, self.y - y0 - t * dy)
        r0, r1 = (max(r, self.min_r) if r > 0 else 0.0 for r in (r0, r1))
        return distance / np.maximum(r0 + (r1 - r0) * t, 1e-6)

    def paint(self, field: np.ndarray, ink: int, wobble: float = 0.0, where: np.ndarray | bool = True) -> np.ndarray:
        inside = (field <= 1 + wobble * self.noise) & where
        self.labels[inside] = ink
        self.strokes[inside] = self.strokes.max() + 1
        return inside

    def dot(self, x: float, y: float, ink: int, w: int = 1, h: int = 1) -> None:
        """A w x h block of whole cells at +-x: features like eyes must stay crisp at every size."""
        col = min(max(int(self.grid / 2 - x / self.cell), 0), self.grid - 1)
        row = min(max(int(self.margin + (y - self.top) / self.cell), 0), self.grid - h)
        stroke = self.strokes.max() + 1
        for c in (col, self.grid - 1 - col):
            left = max(c - w + 1 if c == col else c, 0)
            self.labels[row:row + h, left:left + w] = ink
            self.strokes[row:row + h, left:left + w] = stroke

    def render(self) -> np.ndarray:
        """Shade each ink: rim against the empty, shadow bottom-right, light top-left."""
        if self.margin:
            self.labels[[0, -1]] = 0
            self.labels[:, [0, -1]] = 0
        out = np.zeros((self.grid, self.grid, 4), np.uint8)
        empty = np.pad(self.labels == 0, 1, constant_values=True)
        # Selective outline: the rim is darkest away from the light, softer on the lit side.
        lit_rim = empty[:-2, 1:-1] | empty[1:-1, :-2]
        dark_rim = empty[2:, 1:-1] | empty[1:-1, 2:]
        overlaps = self._overlaps()
        depth = max(1, self.grid // 12)
        for index, (colour, shaded) in enumerate(self.inks, start=1):
            mask = self.labels == index
            if not mask.any():
                continue
            if not shaded:
                out[mask] = (*colour, 255)
                continue
            ramp = _ramp(colour)
            # Light falls on the part as if whatever was painted over it were not there.
            body = mask | (self.strokes > self.strokes[mask].min())
            level = np.full(mask.shape, 2)
            level[mask & ~_run(body, 1, depth)] = 1
            level[mask & ~_run(body, -1, depth)] = 3
            if self.grid >= _RIM_GRID:
                level[mask & (lit_rim | overlaps)] = 1
                level[mask & dark_rim] = 0
            out[mask] = np.array([(*c, 255) for c in ramp], np.uint8)[level[mask]]
        return out

    def _overlaps(self) -> np.ndarray:
        """Cells drawn over an earlier part of the same colour (an arm over the body): a soft line keeps them apart."""
        colours = [None] + [colour for colour, _ in self.inks]
        material = np.array([colours.index(c) for c in colours])[self.labels]
        labels, strokes, materials = np.pad(self.labels, 1), np.pad(self.strokes, 1), np.pad(material, 1)
        found = np.zeros(self.labels.shape, bool)
        for rows, cols in ((slice(None, -2), slice(1, -1)), (slice(2, None), slice(1, -1)),
                           (slice(1, -1), slice(None, -2)), (slice(1, -1), slice(2, None))):
            other = labels[rows, cols]
            found |= ((other > 0) & (other != self.labels) & (materials[rows, cols] == material)
                      & (strokes[rows, cols] < self.strokes))
        return found

    def extent(self) -> tuple[float, float]:
        """The view (centre y, span) that frames what is drawn, with half a cell to spare."""
        rows, cols = np.flatnonzero(self.labels.any(axis=1)), np.flatnonzero(self.labels.any(axis=0))
        if not rows.size:
            return _DRAFT_VIEW
        height = (rows[-1] - rows[0] + 1) * self.cell
        width = (cols[-1] - cols[0] + 1) * self.cell
        centre_y = self.top + ((rows[0] + rows[-1]) / 2 + 0.5 - self.margin) * self.cell
        return centre_y, max(height, width) * 1.04 + self.cell


def _run(mask: np.ndarray, step: int, length: int) -> np.ndarray:
    """Cells from which `length` diagonal steps (down-right if step > 0) stay inside the mask."""
    inside = mask.copy()
    g = mask.shape[0]
    for i in range(1, length + 1):
        shifted = np.zeros_like(mask)
        if step > 0:
            shifted[: g - i, : g - i] = mask[i:, i:]
        else:
            shifted[i:, i:] = mask[: g - i, : g - i]
        inside &= shifted
    return inside


def _eyes(sk: _Sketch, x: float, y: float, glow: Colour | None = None, tall: bool = False) -> None:
    """Dark eyes with a glint, or dark sockets with a glowing pupil."""
    wide, tall = (2 if sk.grid >= 24 else 1), (1 if sk.grid < 12 else 3 if tall and sk.grid >= 24 else 2)
    x = max(x, (wide + 0.5) * sk.cell)  # keep the eyes apart
    sk.dot(x, y, sk.ink(_INK_DARK, False), wide, tall)
    if glow:
        sk.dot(x - (wide - 1) * sk.cell, y + (tall - 1) * sk.cell, sk.ink(glow, False))
    elif wide * tall > 1:
        sk.dot(x, y, sk.ink(_GLINT, False))


def _creature(sk: _Sketch, pal: _Palette, keys: set[str]) -> None:
    """A chibi creature, laid out from the ground up: big heads read well at 16 px."""
    rng = sk.rng
    traits = {t for k in keys for t in _TRAITS.get(k, "").split()}
    if not traits:
        traits = set(rng.sample(_CHANCE_TRAITS, rng.randint(0, 2))) | ({"humanoid"} if rng.random() < 0.3 else set())
    if "flame" in traits:
        _flame_spirit(sk, pal)
        return
    humanoid, bulky, bony = "humanoid" in traits, "bulky" in traits, "bony" in traits
    skin, pale = sk.ink(pal.main), sk.ink(_mix(pal.main, _CREAM, 0.55))
    accent = sk.ink(pal.accent or (_mix(pal.main, _GLINT, 0.6) if bulky else _BONE))

    ground = 0.97
    body_rx = rng.uniform(0.14, 0.19) * (1.35 if bulky else 1) * (0.8 if bony else 1)
    body_ry = rng.uniform(0.12, 0.16) * (1.15 if humanoid else 1) * (1.3 if bulky else 1)
    leg = rng.uniform(0.07, 0.11) if humanoid else rng.uniform(0.03, 0.05)
    body_y = ground - leg - body_ry
    head_r = rng.uniform(0.17, 0.22) * (0.65 if bulky else 1)
    head_ry = head_r * rng.uniform(0.82, 1.0)
    head_y = body_y - body_ry * (0.95 if bulky else 0.7) - head_ry * 0.75

    if "wings" in traits:
        _wings(sk, sk.ink(_mix(pal.main, (30, 16, 40), 0.25)), body_y - body_ry * 0.6, head_y)
    if "floating" in traits:
        sk.paint(sk.limb(0, body_y, 0, ground, body_rx * 0.9, 0), skin, wobble=0.15)
        for x in (body_rx * 0.6, body_rx * 1.1):
            sk.paint(sk.limb(x * 0.6, body_y, x, ground - rng.uniform(0, 0.12), body_rx * 0.4, 0), skin, wobble=0.1)
    elif humanoid:
        leg_r = 0.045 * (1.6 if bulky else 1) * (0.75 if bony else 1)
        leg_x = body_rx * 0.45
        sk.paint(sk.limb(leg_x, body_y + body_ry * 0.5, leg_x, ground - 0.03, leg_r, leg_r), skin)
        boots = sk.ink(_SILVER) if "armored" in traits else skin
        sk.paint(sk.ellipse(leg_x + 0.01, ground - 0.03, leg_r * 1.4, 0.035, 3), boots)
    else:
        sk.paint(sk.ellipse(body_rx * rng.uniform(0.45, 0.65), ground - 0.04, rng.uniform(0.06, 0.08), 0.045), skin)

    sk.paint(sk.ellipse(0, body_y, body_rx, body_ry, 4 if bulky else rng.uniform(1.8, 2.6)), skin, wobble=0.05)
    if bony:
        ribs = (np.floor(sk.y / sk.cell) % 2 == 0) & (sk.x < body_rx * 0.7)
        sk.paint(sk.ellipse(0, body_y - body_ry * 0.1, body_rx * 0.8, body_ry * 0.65), sk.ink((96, 86, 84), False),
                 where=ribs)
    elif "armored" in traits:
        sk.paint(sk.ellipse(0, body_y - body_ry * 0.1, body_rx * 0.85, body_ry * 0.8, 3), sk.ink(_SILVER))
    else:
        sk.paint(sk.ellipse(0, body_y + body_ry * 0.2, body_rx * 0.6, body_ry * 0.65), pale)
    if humanoid or rng.random() < 0.6:
        arm_r = (0.04 if humanoid else 0.035) * (1.8 if bulky else 1) * (0.75 if bony else 1)
        shoulder = (body_rx * 0.8, body_y - body_ry * (0.55 if humanoid else 0.3))
        drop = 0.9 if bulky else rng.uniform(0.2, 0.6) if humanoid else 0.1
        hand = (body_rx + rng.uniform(0.0, 0.03 if bulky else 0.07), body_y + body_ry * drop)
        arm = sk.ink(pal.main)  # an ink of its own, so the arm is outlined over the body
        sk.paint(sk.limb(*shoulder, *hand, arm_r * 1.1, arm_r), arm)
        if humanoid:
            sk.paint(sk.ellipse(*hand, arm_r * 1.3, arm_r * 1.3), arm)
        if bulky:  # rocks or crystals growing from the shoulders
            sk.paint(sk.limb(shoulder[0], shoulder[1], shoulder[0] + 0.03, shoulder[1] - 0.14, 0.06, 0), accent)

    sk.paint(sk.ellipse(0, head_y, head_r, head_ry, 3 if bulky else rng.uniform(1.8, 2.5)), skin, wobble=0.04)
    if "muzzle" in traits or not (humanoid or "floating" in traits) and rng.random() < 0.6:
        muzzle_y = head_y + head_ry * 0.55
        sk.paint(sk.ellipse(0, muzzle_y, head_r * 0.5, head_ry * 0.35), pale)
    _head_features(sk, traits, head_r, head_y - head_ry, skin, accent, pal.main)
    if not (bony or "armored" in traits):
        _markings(sk, skin, _mix(pal.main, (24, 12, 36), 0.35))
    glow = (255, 90, 60) if bony else _mix(pal.accent or (255, 236, 120), _GLINT, 0.3) if "glow" in traits else None
    _eyes(sk, head_r * rng.uniform(0.36, 0.48), head_y + head_ry * 0.05, glow, tall=rng.random() < 0.35)


def _markings(sk: _Sketch, skin: int, colour: Colour) -> None:
    """Spots or stripes on the skin, for a third of creatures."""
    rng = sk.rng
    kind = rng.random()
    if kind > 0.35:
        return
    ink, on_skin = sk.ink(colour, shaded=False), sk.labels == skin
    if kind < 0.18:
        for _ in range(rng.randint(2, 4)):
            r = rng.uniform(0.025, 0.045)
            sk.paint(sk.ellipse(rng.uniform(0.04, 0.2), rng.uniform(0.15, 0.85), r, r), ink, where=on_skin)
    else:
        bands = np.sin(sk.y * rng.uniform(25, 40) + rng.uniform(0, 2 * math.pi)) > 0.6
        sk.paint(np.zeros_like(sk.x), ink, where=on_skin & bands & (sk.x > rng.uniform(0.05, 0.12)))


def _wings(sk: _Sketch, ink: int, shoulder: float, head_y: float) -> None:
    """Bat wings behind the body: overlapping spars leave a scalloped edge."""
    rng = sk.rng
    span = rng.uniform(0.38, 0.45)
    tips = ((0.12, head_y - rng.uniform(0.02, 0.12)), (0.11, shoulder - 0.04), (0.09, shoulder + 0.1))
    for i, (r, tip_y) in enumerate(tips):
        sk.paint(sk.limb(0.06, shoulder, span - i * 0.06, tip_y, r, 0.015), ink)


def _flame_spirit(sk: _Sketch, pal: _Palette) -> None:
    """A teardrop of fire licked by tongues, in layers from the cool rim to a hot core."""
    rng = sk.rng
    centre = 0.66
    tongues = [(0.0, rng.uniform(0.02, 0.1), 0.0)] + [
        (x, rng.uniform(0.12, 0.3), rng.uniform(0.0, 0.06)) for x in (rng.uniform(0.12, 0.16), rng.uniform(0.24, 0.3))]
    arm_y = rng.uniform(0.55, 0.65)
    layers = ((pal.main, 1.0), (_mix(pal.main, (255, 170, 40), 0.5), 0.72),
              (_mix(pal.main, (255, 236, 120), 0.8), 0.42))
    for colour, scale in layers:
        ink = sk.ink(colour)
        bottom, top, base = (centre + (y - centre) * scale for y in (0.97, 0.6, 0.5))
        sk.paint(sk.limb(0, bottom, 0, top, 0.03 * scale, 0.3 * scale), ink, wobble=0.1)
        for x, tip, lean in tongues:
            tip_y = centre + (tip - centre) * scale
            sk.paint(sk.limb(x * scale, base, (x + lean) * scale, tip_y, 0.11 * scale, 0), ink, wobble=0.15)
        if scale == 1.0:  # flickering arms on the outer layer only
            sk.paint(sk.limb(0.24, arm_y + 0.05, 0.42, arm_y - 0.12, 0.07, 0), ink, wobble=0.1)
    _eyes(sk, rng.uniform(0.08, 0.12), rng.uniform(0.58, 0.64))


def _head_features(sk: _Sketch, traits: set[str], r: float, top: float, skin: int, accent: int, main: Colour) -> None:
    rng = sk.rng
    if "ears" in traits:
        tip = (r * rng.uniform(0.75, 1.0), top - r * rng.uniform(0.5, 0.8))
        sk.paint(sk.limb(r * 0.55, top + r * 0.5, *tip, r * 0.4, 0), skin)
    if "round_ears" in traits:
        sk.paint(sk.ellipse(r * 0.75, top + r * 0.2, r * 0.32, r * 0.32), skin)
    if "long_ears" in traits:
        ear_x, ear_top = r * rng.uniform(0.35, 0.5), top - r * rng.uniform(0.9, 1.2)
        sk.paint(sk.limb(ear_x, top + r * 0.3, ear_x + 0.02, ear_top, r * 0.3, r * 0.25), skin)
        sk.paint(sk.limb(ear_x, top + r * 0.1, ear_x + 0.02, ear_top + 0.05, r * 0.1, r * 0.08),
                 sk.ink(_mix(main, (255, 150, 180), 0.5), shaded=False))
    if "horns" in traits:
        tip = (r * rng.uniform(0.8, 1.0), top - r * rng.uniform(0.3, 0.5))
        sk.paint(sk.limb(r * 0.45, top + r * 0.3, *tip, r * 0.3, r * 0.08), accent)
    if "antenna" in traits:
        sk.paint(sk.limb(r * 0.3, top + 0.02, r * 0.6, top - 0.1, 0.02, 0.02), skin)
        sk.paint(sk.ellipse(r * 0.6, top - 0.1, 0.035, 0.035), accent)
    if "crest" in traits:
        for i in range(3):
            sk.paint(sk.limb(0, top + r * 0.3 + i * 0.08, 0, top - 0.06 + i * 0.08, 0.045, 0), accent)
    if "hat" in traits:
        hat = sk.ink(_mix(main, (40, 30, 90), 0.6))
        sk.paint(sk.ellipse(0, top + r * 0.35, r * 1.4, r * 0.22), hat)
        sk.paint(sk.limb(0, top + r * 0.3, r * 0.35, top - r * 1.3, r * 0.75, 0), hat)
    if "armored" in traits:
        sk.paint(sk.ellipse(0, top + r * 0.9, r * 1.08, r * 0.95), sk.ink(_SILVER), where=sk.y < top + r * 0.75)
        sk.paint(sk.limb(0, top, 0, top - 0.1, 0.035, 0), sk.ink(_mix(main, (220, 40, 40), 0.7)))


def _blob(sk: _Sketch, pal: _Palette, keys: set[str]) -> None:
    """A slime: a flat-bottomed dome, sometimes with a drip of a peak."""
    rng = sk.rng
    body = sk.ink(pal.main)
    rx, ry = rng.uniform(0.34, 0.45), rng.uniform(0.26, 0.36)
    bottom = rng.uniform(0.84, 0.9)
    cy = bottom - ry * 0.8
    sk.paint(sk.ellipse(0, cy, rx, ry, rng.uniform(2, 2.6)), body, wobble=0.03, where=sk.y < bottom)
    if rng.random() < 0.5:
        sk.paint(sk.limb(0, cy - ry * 0.7, rng.uniform(0, 0.04), cy - ry - rng.uniform(0.08, 0.16), 0.08, 0), body)
    _eyes(sk, rx * rng.uniform(0.3, 0.45), cy - ry * rng.uniform(-0.05, 0.2))
    sk.dot(0.5 * sk.cell, cy + ry * 0.3, sk.ink(_ramp(pal.main)[0], False))


def _mushroom(sk: _Sketch, pal: _Palette, keys: set[str]) -> None:
    rng = sk.rng
    rx, ry, base = rng.uniform(0.36, 0.46), rng.uniform(0.42, 0.54), rng.uniform(0.48, 0.56)
    sk.paint(sk.limb(0, base - 0.05, 0, 0.9, rng.uniform(0.09, 0.13), rng.uniform(0.1, 0.15)), sk.ink((236, 224, 196)))
    sk.paint(sk.ellipse(0, base, rx * 0.8, 0.04), sk.ink((150, 120, 110)))  # gills under the cap
    sk.paint(sk.ellipse(0, base, rx, ry, rng.uniform(2, 2.6)), sk.ink(pal.main), wobble=0.05, where=sk.y < base)
    spots = sk.ink(pal.accent or (250, 246, 236), shaded=False)
    for _ in range(rng.randint(2, 4)):
        x, y = rng.uniform(0, rx * 0.7), base - rng.uniform(0.06, ry * 0.8)
        sk.paint(sk.ellipse(x, y, 0.045, 0.04), spots, where=sk.labels > 0)


def _sword(sk: _Sketch, pal: _Palette, keys: set[str]) -> None:
    rng = sk.rng
    metal = pal.main_or(_STEEL)
    blade_w, guard_y = max(rng.uniform(0.07, 0.1), 1.6 * sk.cell), rng.uniform(0.64, 0.7)
    blade = sk.ink(metal)
    sk.paint(sk.limb(0, 0.04, 0, 0.16, 0, blade_w), blade)
    sk.paint(sk.ellipse(0, (0.12 + guard_y) / 2, blade_w, (guard_y - 0.12) / 2, 8), blade)
    grip_end = rng.uniform(0.84, 0.88)
    sk.paint(sk.ellipse(0, (guard_y + grip_end) / 2, 0.035, (grip_end - guard_y) / 2, 6), sk.ink(_WOOD))
    guard = sk.ink(pal.accent or (_SILVER if metal == _GOLD else _GOLD))
    span = rng.uniform(0.16, 0.26)
    sk.paint(sk.limb(0, guard_y, span, guard_y - rng.uniform(0, 0.05), 0.04, 0.03), guard)
    sk.paint(sk.ellipse(0, grip_end + 0.04, 0.05, 0.05), guard)


def _polearm(sk: _Sketch, pal: _Palette, keys: set[str]) -> None:
    """A shaft with a head: an orb for staves and wands, else a spear, axe or hammer head."""
    rng = sk.rng
    orb = not keys & {"axe", "hammer", "spear"}
    shaft, head = sk.ink(_WOOD), sk.ink(pal.main if orb else pal.main_or(_STEEL))
    trim = sk.ink(pal.accent or (_SILVER if pal.main == _GOLD else _GOLD))
    sk.paint(sk.limb(0, 0.3, 0, 0.95, 0.04, 0.04), shaft)
    sk.paint(sk.ellipse(0, rng.uniform(0.55, 0.7), 0.055, 0.05, 4), trim)
    if "axe" in keys:
        sk.paint(sk.limb(0.04, 0.26, rng.uniform(0.26, 0.32), 0.26, 0.07, rng.uniform(0.15, 0.2)), head)
        sk.paint(sk.limb(0, 0.1, 0, 0.42, 0.045, 0.045), shaft)
    elif "hammer" in keys:
        sk.paint(sk.ellipse(0, 0.24, rng.uniform(0.22, 0.28), rng.uniform(0.1, 0.13), 6), head)
    elif "spear" in keys:
        tip_w, base = rng.uniform(0.08, 0.12), rng.uniform(0.26, 0.32)
        sk.paint(sk.limb(0, 0.02, 0, base - tip_w, 0, tip_w), head)
        sk.paint(sk.ellipse(0, base - tip_w, tip_w, tip_w), head, where=sk.y > base - tip_w)
        sk.paint(sk.ellipse(0, base + 0.02, 0.06, 0.035, 4), trim)
    else:
        orb_r = rng.uniform(0.12, 0.16)
        orb_y = 0.3 - orb_r * 0.9
        sk.paint(sk.limb(0.03, 0.34, orb_r + 0.04, orb_y - orb_r * rng.uniform(0.3, 0.9), 0.045, 0.015), trim)
        sk.paint(sk.ellipse(0, orb_y, orb_r, orb_r), head)


def _potion(sk: _Sketch, pal: _Palette, keys: set[str]) -> None:
    """A glass flask, part full: the liquid sits one cell inside the glass so the glass still shows."""
    rng = sk.rng
    r, cy = rng.uniform(0.26, 0.33), rng.uniform(0.64, 0.68)
    power = rng.choice((2.0, 2.0, 3.0))
    neck_w, neck_top = rng.uniform(0.06, 0.09), rng.uniform(0.2, 0.26)
    glass = sk.ink((200, 220, 236))
    sk.paint(sk.ellipse(0, (neck_top + cy) / 2, neck_w, (cy - neck_top) / 2, 8), glass)
    sk.paint(sk.ellipse(0, neck_top + 0.02, neck_w + 0.03, 0.025, 4), glass)
    sk.paint(sk.ellipse(0, cy, r, r * 0.95, power), glass)
    level = cy - r * rng.uniform(0.1, 0.5)
    inner = sk.ellipse(0, cy, r - 1.2 * sk.cell, r * 0.95 - 1.2 * sk.cell, power)
    sk.paint(inner, sk.ink(pal.main), where=sk.y > level)
    sk.paint(sk.ellipse(0, neck_top - 0.04, neck_w * 0.9, 0.05, 4), sk.ink(_WOOD))
    sk.dot(r * 0.45, cy - r * 0.2, sk.ink(_GLINT, False))


def _chest(sk: _Sketch, pal: _Palette, keys: set[str]) -> None:
    rng = sk.rng
    w, seam = rng.uniform(0.38, 0.45), rng.uniform(0.44, 0.5)
    top, bottom = seam - rng.uniform(0.16, 0.22), rng.uniform(0.82, 0.88)
    wood_colour = pal.main_or(_WOOD)
    wood, metal = sk.ink(wood_colour), sk.ink(pal.accent or _GOLD)
    sk.paint(sk.ellipse(0, (seam + bottom) / 2, w, (bottom - seam) / 2, 10), wood)
    sk.paint(sk.ellipse(0, seam, w, seam - top, rng.choice((2.5, 4.0, 10.0))), wood, where=sk.y < seam)
    sk.paint(sk.ellipse(w * rng.uniform(0.55, 0.75), 0.5, 0.035, 0.5, 8), metal, where=sk.labels > 0)  # bands
    sk.paint(sk.ellipse(0, seam, 1, 0.025, 8), sk.ink(_ramp(wood_colour)[0], False), where=sk.labels > 0)
    sk.paint(sk.ellipse(0, seam + 0.03, 0.06, 0.06, 3), metal)  # the lock, and its keyhole
    sk.dot(0.5 * sk.cell, seam + 0.04, sk.ink(_INK_DARK, False))


def _coin(sk: _Sketch, pal: _Palette, keys: set[str]) -> None:
    rng = sk.rng
    metal = pal.main_or(_GOLD)
    r = rng.uniform(0.34, 0.42)
    sk.paint(sk.ellipse(0, 0.5, r, r), sk.ink(metal))
    sk.paint(sk.ellipse(0, 0.5, r * 0.7, r * 0.7), sk.ink(_ramp(metal)[1], False))
    sk.paint(sk.ellipse(0, 0.5, r * 0.7 - sk.cell, r * 0.7 - sk.cell), sk.ink(metal))
    sk.paint(sk.ellipse(0, 0.5, 0.04, r * 0.4, 4), sk.ink(_ramp(metal)[3], False))


def _gem(sk: _Sketch, pal: _Palette, keys: set[str]) -> None:
    rng = sk.rng
    rx, ry = rng.uniform(0.26, 0.36), rng.uniform(0.34, 0.42)
    sk.paint(sk.ellipse(0, 0.52, rx, ry, rng.choice((1.0, 1.3))), sk.ink(pal.main))
    sk.paint(sk.ellipse(0, 0.52 - ry * 0.35, rx * 0.5, ry * 0.3, 1.0), sk.ink(_ramp(pal.main)[3], False))  # table facet


def _shield(sk: _Sketch, pal: _Palette, keys: set[str]) -> None:
    """A heater shield: a metal rim, a coloured face, a cross or a boss."""
    rng = sk.rng
    w, shoulder = rng.uniform(0.34, 0.42), rng.uniform(0.42, 0.52)
    rim = sk.ink(pal.accent or (_GOLD if pal.main == _SILVER else _SILVER))
    face = sk.ink(pal.main)
    inset = 1.5 * sk.cell
    for ink, pad in ((rim, 0.0), (face, inset)):
        sk.paint(sk.ellipse(0, (0.08 + shoulder) / 2, w - pad, (shoulder - 0.08) / 2 - pad, 6), ink)
        sk.paint(sk.limb(0, 0.94 - pad * 1.5, 0, shoulder - 0.05, 0, w - pad), ink, where=sk.y > shoulder - 0.1)
    if rng.random() < 0.5:
        sk.paint(sk.ellipse(0, 0.45, 0.04, 0.28, 6), rim)
        sk.paint(sk.ellipse(0, 0.4, 0.22, 0.04, 6), rim, where=sk.x < w - inset * 2)
    else:
        sk.paint(sk.ellipse(0, 0.45, 0.1, 0.1), rim)


_FAMILIES: list[tuple[set[str], Callable[[_Sketch, _Palette, set[str]], None]]] = [
    ({"sword", "blade", "dagger", "katana", "sabre", "saber"}, _sword),
    ({"staff", "wand", "rod", "scepter", "spear", "axe", "hammer"}, _polearm),
    ({"potion", "flask", "bottle", "elixir", "vial"}, _potion),
    ({"chest", "crate", "box", "treasure"}, _chest),
    ({"coin"}, _coin),
    ({"gem", "jewel", "crystal", "diamond", "ruby", "emerald", "sapphire", "amethyst"}, _gem),
    ({"shield"}, _shield),
    ({"mushroom", "toadstool", "shroom"}, _mushroom),
    ({"slime", "blob", "jelly", "ooze", "goo"}, _blob),
]
