"""Things without a face: a mushroom, weapons, a potion, loot, a shield, a key, a heart and a star."""
from __future__ import annotations

import numpy as np

from .colour import shade_ramp
from .sketch import Sketch
from .words import GLINT, GOLD, INK_DARK, SILVER, STEEL, WOOD, Palette


def draw_mushroom(sk: Sketch, pal: Palette, keys: set[str]) -> None:
    rng = sk.rng
    rx, ry, base = rng.uniform(0.36, 0.46), rng.uniform(0.42, 0.54), rng.uniform(0.48, 0.56)
    sk.paint(sk.limb(0, base - 0.05, 0, 0.9, rng.uniform(0.09, 0.13), rng.uniform(0.1, 0.15)), sk.ink((236, 224, 196)))
    sk.paint(sk.ellipse(0, base, rx * 0.8, 0.04), sk.ink((150, 120, 110)))  # gills under the cap
    sk.paint(sk.ellipse(0, base, rx, ry, rng.uniform(2, 2.6)), sk.ink(pal.main), wobble=0.05, where=sk.y < base)
    spots = sk.ink(pal.accent or (250, 246, 236), shaded=False)
    for _ in range(rng.randint(2, 4)):
        x, y = rng.uniform(0, rx * 0.7), base - rng.uniform(0.06, ry * 0.8)
        sk.paint(sk.ellipse(x, y, 0.045, 0.04), spots, where=sk.labels > 0)


def draw_sword(sk: Sketch, pal: Palette, keys: set[str]) -> None:
    rng = sk.rng
    metal = pal.main_or(STEEL)
    blade_w, guard_y = max(rng.uniform(0.07, 0.1), 1.6 * sk.cell), rng.uniform(0.64, 0.7)
    blade = sk.ink(metal)
    sk.paint(sk.limb(0, 0.04, 0, 0.16, 0, blade_w), blade)
    sk.paint(sk.ellipse(0, (0.12 + guard_y) / 2, blade_w, (guard_y - 0.12) / 2, 8), blade)
    grip_end = rng.uniform(0.84, 0.88)
    sk.paint(sk.ellipse(0, (guard_y + grip_end) / 2, 0.035, (grip_end - guard_y) / 2, 6), sk.ink(WOOD))
    guard = sk.ink(pal.accent or (SILVER if metal == GOLD else GOLD))
    span = rng.uniform(0.16, 0.26)
    sk.paint(sk.limb(0, guard_y, span, guard_y - rng.uniform(0, 0.05), 0.04, 0.03), guard)
    sk.paint(sk.ellipse(0, grip_end + 0.04, 0.05, 0.05), guard)


def draw_polearm(sk: Sketch, pal: Palette, keys: set[str]) -> None:
    """A shaft with a head: an orb for staves and wands, else a spear, axe or hammer head."""
    rng = sk.rng
    orb = not keys & {"axe", "hammer", "spear"}
    shaft, head = sk.ink(WOOD), sk.ink(pal.main if orb else pal.main_or(STEEL))
    trim = sk.ink(pal.accent or (SILVER if pal.main == GOLD else GOLD))
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


def draw_potion(sk: Sketch, pal: Palette, keys: set[str]) -> None:
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
    sk.paint(sk.ellipse(0, neck_top - 0.04, neck_w * 0.9, 0.05, 4), sk.ink(WOOD))
    sk.dot(r * 0.45, cy - r * 0.2, sk.ink(GLINT, False))


def draw_chest(sk: Sketch, pal: Palette, keys: set[str]) -> None:
    rng = sk.rng
    w, seam = rng.uniform(0.38, 0.45), rng.uniform(0.44, 0.5)
    top, bottom = seam - rng.uniform(0.16, 0.22), rng.uniform(0.82, 0.88)
    wood_colour = pal.main_or(WOOD)
    wood, metal = sk.ink(wood_colour), sk.ink(pal.accent or GOLD)
    sk.paint(sk.ellipse(0, (seam + bottom) / 2, w, (bottom - seam) / 2, 10), wood)
    sk.paint(sk.ellipse(0, seam, w, seam - top, rng.choice((2.5, 4.0, 10.0))), wood, where=sk.y < seam)
    sk.paint(sk.ellipse(w * rng.uniform(0.55, 0.75), 0.5, 0.035, 0.5, 8), metal, where=sk.labels > 0)  # bands
    sk.paint(sk.ellipse(0, seam, 1, 0.025, 8), sk.ink(shade_ramp(wood_colour)[0], False), where=sk.labels > 0)
    sk.paint(sk.ellipse(0, seam + 0.03, 0.06, 0.06, 3), metal)  # the lock, and its keyhole
    sk.dot(0.5 * sk.cell, seam + 0.04, sk.ink(INK_DARK, False))


def draw_coin(sk: Sketch, pal: Palette, keys: set[str]) -> None:
    rng = sk.rng
    metal = pal.main_or(GOLD)
    r = rng.uniform(0.34, 0.42)
    sk.paint(sk.ellipse(0, 0.5, r, r), sk.ink(metal))
    sk.paint(sk.ellipse(0, 0.5, r * 0.7, r * 0.7), sk.ink(shade_ramp(metal)[1], False))
    sk.paint(sk.ellipse(0, 0.5, r * 0.7 - sk.cell, r * 0.7 - sk.cell), sk.ink(metal))
    sk.paint(sk.ellipse(0, 0.5, 0.04, r * 0.4, 4), sk.ink(shade_ramp(metal)[3], False))


def draw_gem(sk: Sketch, pal: Palette, keys: set[str]) -> None:
    rng = sk.rng
    rx, ry = rng.uniform(0.26, 0.36), rng.uniform(0.34, 0.42)
    sk.paint(sk.ellipse(0, 0.52, rx, ry, rng.choice((1.0, 1.3))), sk.ink(pal.main))
    sk.paint(sk.ellipse(0, 0.52 - ry * 0.35, rx * 0.5, ry * 0.3, 1.0), sk.ink(shade_ramp(pal.main)[3], False))  # table facet


def draw_shield(sk: Sketch, pal: Palette, keys: set[str]) -> None:
    """A heater shield: a metal rim, a coloured face, a cross or a boss."""
    rng = sk.rng
    w, shoulder = rng.uniform(0.34, 0.42), rng.uniform(0.42, 0.52)
    rim = sk.ink(pal.accent or (GOLD if pal.main == SILVER else SILVER))
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


def draw_key(sk: Sketch, pal: Palette, keys: set[str]) -> None:
    """An old key standing up: a ring, a shaft, and a bit on each side (the drawing is mirrored)."""
    rng = sk.rng
    metal = sk.ink(pal.main_or(GOLD))
    ring_r, ring_y = rng.uniform(0.15, 0.19), rng.uniform(0.2, 0.24)
    sk.paint(sk.ellipse(0, ring_y, ring_r, ring_r), metal)
    hole = sk.ellipse(0, ring_y, ring_r * 0.5, ring_r * 0.5) <= 1
    sk.labels[hole] = 0  # the ring's hole shows what is behind it
    sk.paint(sk.limb(0, ring_y + ring_r, 0, 0.94, 0.045, 0.045), metal)
    for y in (0.78, 0.9)[: rng.choice((1, 2))]:
        sk.paint(sk.limb(0, y, rng.uniform(0.12, 0.16), y, 0.04, 0.04), metal)


def draw_heart(sk: Sketch, pal: Palette, keys: set[str]) -> None:
    rng = sk.rng
    lobe_r = rng.uniform(0.2, 0.23)
    face = sk.ink(pal.main_or((214, 40, 60)))
    sk.paint(sk.ellipse(lobe_r * 0.85, 0.36, lobe_r, lobe_r), face)
    sk.paint(sk.limb(0, 0.88, lobe_r * 0.85, 0.4, 0, lobe_r), face)
    sk.dot(lobe_r * 1.2, 0.3, sk.ink(GLINT, False))


def draw_star(sk: Sketch, pal: Palette, keys: set[str]) -> None:
    """A five-pointed star, one point up."""
    rng = sk.rng
    outer, inner, cy = rng.uniform(0.44, 0.48), rng.uniform(0.19, 0.23), 0.54
    angle = np.arctan2(sk.x, cy - sk.y)  # 0 straight up, pi straight down; the drawing mirrors the rest
    arm = (angle % (2 * np.pi / 5)) / (2 * np.pi / 5)
    reach = inner + (outer - inner) * np.abs(1 - 2 * arm)
    sk.paint(np.hypot(sk.x, sk.y - cy) / reach, sk.ink(pal.main_or(GOLD)))
