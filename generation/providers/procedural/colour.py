"""Colour arithmetic for the offline art: HSV, mixing, and the shading ramp of a base colour."""
from __future__ import annotations

import colorsys

Colour = tuple[int, int, int]


def hsv(h: float, s: float, v: float) -> Colour:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return round(r * 255), round(g * 255), round(b * 255)


def mix(a: Colour, b: Colour, t: float) -> Colour:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore[return-value]


def shade_ramp(colour: Colour) -> list[Colour]:
    """Outline, shadow, base, light: shadows drift toward blue and highlights toward yellow, as pixel artists do."""
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in colour))

    def toward(target: float, amount: float) -> float:
        delta = (target - h + 0.5) % 1.0 - 0.5
        return h + max(-amount, min(amount, delta)) * (s > 0.08)

    return [
        hsv(toward(0.70, 0.05), s * 1.1 + 0.1, v * 0.5),
        hsv(toward(0.70, 0.025), s * 1.05, v * 0.72),
        colour,
        hsv(toward(0.15, 0.03), s * 0.8, v * 1.15 + 0.08),
    ]
