"""Bigger things, each one shape for many words: a tree or bush, a rocket, a car, a house."""
from __future__ import annotations

from .sketch import Sketch
from .words import GLINT, INK_DARK, SILVER, WOOD, Palette

LEAF, GLASS, FLAME = (62, 142, 62), (150, 216, 240), (240, 100, 30)
CONIFERS = {"pine", "fir", "spruce", "conifer", "christmas"}
LOW_PLANTS = {"bush", "shrub", "hedge", "plant", "fern"}


def draw_tree(sk: Sketch, pal: Palette, keys: set[str]) -> None:
    """A broadleaf tree, a conifer (pine, fir...) or a bush (bush, shrub, plant...)."""
    rng = sk.rng
    leaves = sk.ink(pal.main_or(LEAF))
    if keys & LOW_PLANTS and not keys & CONIFERS:
        sk.paint(sk.ellipse(0, 0.7, rng.uniform(0.36, 0.44), rng.uniform(0.22, 0.28), 2.2), leaves, wobble=0.12)
        sk.paint(sk.ellipse(rng.uniform(0.14, 0.22), 0.56, 0.18, 0.16), leaves, wobble=0.1)
        return
    sk.paint(sk.limb(0, 0.55, 0, 0.95, rng.uniform(0.05, 0.07), rng.uniform(0.07, 0.09)), sk.ink(WOOD))
    if keys & CONIFERS:
        for top, bottom, width in ((0.04, 0.4, 0.26), (0.2, 0.6, 0.34), (0.36, 0.8, 0.42)):
            sk.paint(sk.limb(0, top, 0, bottom, 0, width * rng.uniform(0.9, 1.1)), leaves,
                     where=sk.y <= bottom)
        return
    crown_y, crown_r = rng.uniform(0.34, 0.4), rng.uniform(0.3, 0.36)
    sk.paint(sk.ellipse(0, crown_y, crown_r, crown_r * rng.uniform(0.85, 1.0)), leaves, wobble=0.12)
    sk.paint(sk.ellipse(crown_r * 0.7, crown_y + 0.12, crown_r * 0.5, crown_r * 0.45), leaves, wobble=0.1)
    if pal.accent:  # "apple tree" is not coloured by its name, but "red and green tree" gets fruit
        for _ in range(rng.randint(2, 3)):
            sk.dot(rng.uniform(0.05, crown_r * 0.8), crown_y + rng.uniform(-0.1, 0.15), sk.ink(pal.accent, False))


def draw_rocket(sk: Sketch, pal: Palette, keys: set[str]) -> None:
    """A rocket standing on its fins, nose up, with a window and a flame."""
    rng = sk.rng
    hull, trim = sk.ink(pal.main_or(SILVER)), sk.ink(pal.accent or (206, 46, 46))
    body_w, nose = rng.uniform(0.13, 0.17), rng.uniform(0.26, 0.32)
    sk.paint(sk.limb(0, 0.82, sk.cell, 0.86, 0.06, 0.04), sk.ink(FLAME, False))
    sk.paint(sk.limb(0, 0.88, 0, 0.99, 0.07, 0), sk.ink(FLAME, False))
    sk.paint(sk.limb(body_w * 0.7, 0.6, rng.uniform(0.26, 0.32), 0.86, 0.05, 0.035), trim)  # fins
    sk.paint(sk.ellipse(0, (nose + 0.82) / 2, body_w, (0.82 - nose) / 2, 4), hull)
    sk.paint(sk.limb(0, 0.04, 0, nose + 0.02, 0, body_w), trim)  # the nose cone
    window_y = nose + rng.uniform(0.14, 0.2)
    sk.paint(sk.ellipse(0, window_y, body_w * 0.6, body_w * 0.6), sk.ink(INK_DARK, False))
    sk.paint(sk.ellipse(0, window_y, body_w * 0.6 - sk.cell, body_w * 0.6 - sk.cell), sk.ink(GLASS, False))


def draw_car(sk: Sketch, pal: Palette, keys: set[str]) -> None:
    """A car from the side, drawn mirrored: a body, a cabin with two windows, two wheels."""
    rng = sk.rng
    paint = sk.ink(pal.main)
    length, roof = rng.uniform(0.42, 0.46), rng.uniform(0.4, 0.46)
    tall = bool(keys & {"truck", "van", "bus", "jeep"})
    cabin_w = length * (0.8 if tall else rng.uniform(0.5, 0.6))
    sk.paint(sk.ellipse(0, 0.62, cabin_w, 0.62 - roof + (0.06 if tall else 0), 3), paint, where=sk.y < 0.62)
    sk.paint(sk.ellipse(0, 0.67, length, rng.uniform(0.1, 0.12), 4), paint)
    window_top = roof + 0.05 - (0.06 if tall else 0)
    sk.paint(sk.ellipse(cabin_w * 0.45, (window_top + 0.6) / 2, cabin_w * 0.32, (0.6 - window_top) / 2, 4),
             sk.ink(GLASS, False), where=sk.x > sk.cell)
    wheel_x, wheel_r = length * rng.uniform(0.58, 0.66), rng.uniform(0.09, 0.11)
    sk.paint(sk.ellipse(wheel_x, 0.78, wheel_r, wheel_r), sk.ink((44, 42, 52)))
    sk.paint(sk.ellipse(wheel_x, 0.78, wheel_r * 0.4, wheel_r * 0.4), sk.ink(SILVER, False))
    sk.dot(length - sk.cell, 0.64, sk.ink(GLINT, False))  # the lamps


def draw_house(sk: Sketch, pal: Palette, keys: set[str]) -> None:
    """A house from the front: walls, a pitched roof, a door and two windows."""
    rng = sk.rng
    walls, roof = sk.ink(pal.main_or((226, 210, 170))), sk.ink(pal.accent or (170, 70, 50))
    width, eaves = rng.uniform(0.32, 0.36), rng.uniform(0.44, 0.5)
    sk.paint(sk.ellipse(0, (eaves + 0.92) / 2, width, (0.92 - eaves) / 2 + 0.02, 10), walls)
    sk.paint(sk.limb(0, rng.uniform(0.1, 0.16), 0, eaves + 0.04, 0, width + 0.08), roof, where=sk.y <= eaves + 0.04)
    sk.paint(sk.ellipse(0, 0.82, rng.uniform(0.06, 0.08), 0.11, 4), sk.ink(WOOD))
    sk.paint(sk.ellipse(width * 0.58, eaves + 0.16, 0.065, 0.06, 6), sk.ink(GLASS, False))
