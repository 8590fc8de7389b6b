"""The drawing canvas: a mirrored grid of inks, shape fields in unit coordinates, and shading on render."""
from __future__ import annotations

import math
import random

import numpy as np

from .colour import Colour, shade_ramp

_RIM_GRID = 20  # below this an inner rim would leave too little colour; make_sprite can outline instead
DRAFT_VIEW = (0.5, 1.5)  # centre y and span: wide enough for ears and horns above the unit square


class Sketch:
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
            ramp = shade_ramp(colour)
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
            return DRAFT_VIEW
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
