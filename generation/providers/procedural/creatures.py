"""Things with a face: the chibi creature and its traits (ears, horns, wings...), the flame spirit, the slime."""
from __future__ import annotations

import math

import numpy as np

from .colour import Colour, mix, shade_ramp
from .sketch import Sketch
from .words import BONE, CHANCE_TRAITS, CREAM, GLINT, INK_DARK, SILVER, TRAITS, Palette


def _eyes(sk: Sketch, x: float, y: float, glow: Colour | None = None, tall: bool = False) -> None:
    """Dark eyes with a glint, or dark sockets with a glowing pupil."""
    wide, tall = (2 if sk.grid >= 24 else 1), (1 if sk.grid < 12 else 3 if tall and sk.grid >= 24 else 2)
    x = max(x, (wide + 0.5) * sk.cell)  # keep the eyes apart
    sk.dot(x, y, sk.ink(INK_DARK, False), wide, tall)
    if glow:
        sk.dot(x - (wide - 1) * sk.cell, y + (tall - 1) * sk.cell, sk.ink(glow, False))
    elif wide * tall > 1:
        sk.dot(x, y, sk.ink(GLINT, False))


def draw_creature(sk: Sketch, pal: Palette, keys: set[str]) -> None:
    """A chibi creature, laid out from the ground up: big heads read well at 16 px."""
    rng = sk.rng
    traits = {t for k in keys for t in TRAITS.get(k, "").split()}
    if not traits:
        traits = set(rng.sample(CHANCE_TRAITS, rng.randint(0, 2))) | ({"humanoid"} if rng.random() < 0.3 else set())
    if "flame" in traits:
        _flame_spirit(sk, pal)
        return
    humanoid, bulky, bony = "humanoid" in traits, "bulky" in traits, "bony" in traits
    skin, pale = sk.ink(pal.main), sk.ink(mix(pal.main, CREAM, 0.55))
    accent = sk.ink(pal.accent or (mix(pal.main, GLINT, 0.6) if bulky else BONE))

    ground = 0.97
    body_rx = rng.uniform(0.14, 0.19) * (1.35 if bulky else 1) * (0.8 if bony else 1)
    body_ry = rng.uniform(0.12, 0.16) * (1.15 if humanoid else 1) * (1.3 if bulky else 1)
    leg = rng.uniform(0.07, 0.11) if humanoid else rng.uniform(0.03, 0.05)
    body_y = ground - leg - body_ry
    head_r = rng.uniform(0.17, 0.22) * (0.65 if bulky else 1)
    head_ry = head_r * rng.uniform(0.82, 1.0)
    head_y = body_y - body_ry * (0.95 if bulky else 0.7) - head_ry * 0.75

    if "wings" in traits:
        _wings(sk, sk.ink(mix(pal.main, (30, 16, 40), 0.25)), body_y - body_ry * 0.6, head_y)
    if "floating" in traits:
        sk.paint(sk.limb(0, body_y, 0, ground, body_rx * 0.9, 0), skin, wobble=0.15)
        for x in (body_rx * 0.6, body_rx * 1.1):
            sk.paint(sk.limb(x * 0.6, body_y, x, ground - rng.uniform(0, 0.12), body_rx * 0.4, 0), skin, wobble=0.1)
    elif humanoid:
        leg_r = 0.045 * (1.6 if bulky else 1) * (0.75 if bony else 1)
        leg_x = body_rx * 0.45
        sk.paint(sk.limb(leg_x, body_y + body_ry * 0.5, leg_x, ground - 0.03, leg_r, leg_r), skin)
        boots = sk.ink(SILVER) if "armored" in traits else skin
        sk.paint(sk.ellipse(leg_x + 0.01, ground - 0.03, leg_r * 1.4, 0.035, 3), boots)
    else:
        sk.paint(sk.ellipse(body_rx * rng.uniform(0.45, 0.65), ground - 0.04, rng.uniform(0.06, 0.08), 0.045), skin)

    sk.paint(sk.ellipse(0, body_y, body_rx, body_ry, 4 if bulky else rng.uniform(1.8, 2.6)), skin, wobble=0.05)
    if bony:
        ribs = (np.floor(sk.y / sk.cell) % 2 == 0) & (sk.x < body_rx * 0.7)
        sk.paint(sk.ellipse(0, body_y - body_ry * 0.1, body_rx * 0.8, body_ry * 0.65), sk.ink((96, 86, 84), False),
                 where=ribs)
    elif "armored" in traits:
        sk.paint(sk.ellipse(0, body_y - body_ry * 0.1, body_rx * 0.85, body_ry * 0.8, 3), sk.ink(SILVER))
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
        _markings(sk, skin, mix(pal.main, (24, 12, 36), 0.35))
    glow = (255, 90, 60) if bony else mix(pal.accent or (255, 236, 120), GLINT, 0.3) if "glow" in traits else None
    _eyes(sk, head_r * rng.uniform(0.36, 0.48), head_y + head_ry * 0.05, glow, tall=rng.random() < 0.35)


def _markings(sk: Sketch, skin: int, colour: Colour) -> None:
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


def _wings(sk: Sketch, ink: int, shoulder: float, head_y: float) -> None:
    """Bat wings behind the body: overlapping spars leave a scalloped edge."""
    rng = sk.rng
    span = rng.uniform(0.38, 0.45)
    tips = ((0.12, head_y - rng.uniform(0.02, 0.12)), (0.11, shoulder - 0.04), (0.09, shoulder + 0.1))
    for i, (r, tip_y) in enumerate(tips):
        sk.paint(sk.limb(0.06, shoulder, span - i * 0.06, tip_y, r, 0.015), ink)


def _flame_spirit(sk: Sketch, pal: Palette) -> None:
    """A teardrop of fire licked by tongues, in layers from the cool rim to a hot core."""
    rng = sk.rng
    centre = 0.66
    tongues = [(0.0, rng.uniform(0.02, 0.1), 0.0)] + [
        (x, rng.uniform(0.12, 0.3), rng.uniform(0.0, 0.06)) for x in (rng.uniform(0.12, 0.16), rng.uniform(0.24, 0.3))]
    arm_y = rng.uniform(0.55, 0.65)
    layers = ((pal.main, 1.0), (mix(pal.main, (255, 170, 40), 0.5), 0.72),
              (mix(pal.main, (255, 236, 120), 0.8), 0.42))
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


def _head_features(sk: Sketch, traits: set[str], r: float, top: float, skin: int, accent: int, main: Colour) -> None:
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
                 sk.ink(mix(main, (255, 150, 180), 0.5), shaded=False))
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
        hat = sk.ink(mix(main, (40, 30, 90), 0.6))
        sk.paint(sk.ellipse(0, top + r * 0.35, r * 1.4, r * 0.22), hat)
        sk.paint(sk.limb(0, top + r * 0.3, r * 0.35, top - r * 1.3, r * 0.75, 0), hat)
    if "armored" in traits:
        sk.paint(sk.ellipse(0, top + r * 0.9, r * 1.08, r * 0.95), sk.ink(SILVER), where=sk.y < top + r * 0.75)
        sk.paint(sk.limb(0, top, 0, top - 0.1, 0.035, 0), sk.ink(mix(main, (220, 40, 40), 0.7)))


def draw_blob(sk: Sketch, pal: Palette, keys: set[str]) -> None:
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
    sk.dot(0.5 * sk.cell, cy + ry * 0.3, sk.ink(shade_ramp(pal.main)[0], False))

