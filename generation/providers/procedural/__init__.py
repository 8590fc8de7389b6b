"""The offline model's art: pixel sprites drawn from the words of a prompt.

A sprite is sketched on a small grid in unit coordinates where x is the
distance from the vertical axis, so every shape comes out mirrored. Keywords
pick a shape family ("sword", "slime", "chest"... else a creature) and traits
("dragon" has wings and horns), colour words pick the palette, and a seeded
generator varies proportions and edges. Shapes are resolution independent, so
the same prompt and seed give the same design at every grid size.

The parts, each importing only those before it: `colour` (HSV, mixing,
shading ramps), `words` (what prompt words mean: colours, traits, the
palette), `sketch` (the canvas and its shading), `creatures` and `props` (the
shape families). This module picks a family and frames the drawing.
"""
from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable

from PIL import Image

from .creatures import draw_blob, draw_creature
from .props import (
    draw_chest, draw_coin, draw_gem, draw_heart, draw_key, draw_mushroom, draw_polearm, draw_potion, draw_shield,
    draw_star, draw_sword,
)
from .scenery import draw_car, draw_house, draw_rocket, draw_tree
from .sketch import DRAFT_VIEW, Sketch
from .words import TRAITS, Palette, palette_for

_DEFAULT_SEED = 0
_MAX_GRID = 32  # logical pixels across at large sizes; more would stop looking like pixel art
_DRAFT_GRID = 66

# The first family whose names the prompt uses draws it; anything else is a creature.
_FAMILIES: list[tuple[set[str], Callable[[Sketch, Palette, set[str]], None]]] = [
    ({"sword", "blade", "dagger", "katana", "sabre", "saber"}, draw_sword),
    ({"staff", "wand", "rod", "scepter", "spear", "axe", "hammer"}, draw_polearm),
    ({"potion", "flask", "bottle", "elixir", "vial"}, draw_potion),
    ({"chest", "crate", "box", "treasure"}, draw_chest),
    ({"coin"}, draw_coin),
    ({"gem", "jewel", "crystal", "diamond", "ruby", "emerald", "sapphire", "amethyst"}, draw_gem),
    ({"shield"}, draw_shield),
    ({"mushroom", "toadstool", "shroom"}, draw_mushroom),
    ({"slime", "blob", "jelly", "ooze", "goo"}, draw_blob),
    # Last, so that a prompt an earlier family drew before still draws the same bytes.
    ({"tree", "oak", "pine", "fir", "spruce", "conifer", "palm", "willow", "birch", "maple", "bush", "shrub", "hedge",
      "plant", "fern", "sapling"}, draw_tree),
    ({"rocket", "spaceship", "spacecraft", "starship", "shuttle"}, draw_rocket),
    ({"car", "truck", "vehicle", "van", "jeep", "bus", "taxi", "racecar", "automobile", "wagon", "kart"}, draw_car),
    ({"house", "home", "hut", "cottage", "cabin", "shack", "building"}, draw_house),
    ({"key"}, draw_key),
    ({"heart"}, draw_heart),
    ({"star"}, draw_star),
]
# The words that pick a shape (README: what the offline model draws), and every word the offline
# model draws as what it names: those, and the creatures that have traits of their own.
SHAPE_WORDS = frozenset().union(*(names for names, _ in _FAMILIES))
KNOWN_SUBJECTS = SHAPE_WORDS | frozenset(TRAITS)


def _words(prompt: str) -> tuple[list[str], set[str]]:
    """The prompt's words, and the keys a family is looked up by ("swords" draws a sword)."""
    words = re.findall(r"\w+", prompt.lower())
    return words, set(words) | {w[:-1] for w in words if w.endswith("s")}


def knows_subject(prompt: str) -> bool:
    """Whether the prompt names something the offline model draws as such; otherwise it draws a
    creature in the prompt's colours, and says so (`subject_matched: false` in the API's answer)."""
    return bool(_words(prompt)[1] & KNOWN_SUBJECTS)


def draw_sprite(prompt: str, *, size: int, seed: int | None = None) -> Image.Image:
    """An RGBA `size` x `size` sprite on a transparent background.

    Deterministic: the same words (case and punctuation aside) and seed give
    the same pixels; `seed=None` means a fixed default seed.
    """
    if size < 1:
        raise ValueError("size must be at least 1")
    words, keys = _words(prompt)
    shape_seed = _digest("shape", _DEFAULT_SEED if seed is None else seed, *words)
    palette = palette_for(words, random.Random(_digest("palette", *words)))
    draw = next((family for names, family in _FAMILIES if keys & names), draw_creature)

    def sketch(grid: int, view: tuple[float, float]) -> Sketch:
        drawing = Sketch(grid, random.Random(shape_seed), view)
        draw(drawing, palette, keys)
        return drawing

    # Draw twice with the same seed: a fine draft measures the design, so the
    # real drawing can frame it to fill the sprite whatever its proportions.
    view = sketch(_DRAFT_GRID, DRAFT_VIEW).extent()
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
