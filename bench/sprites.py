"""Time the sprite pipeline: make_sprite on a model-sized picture, and the offline model's draw_sprite.

    .venv/bin/python bench/sprites.py [runs]
"""
from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PIL import Image, ImageFilter  # noqa: E402

from generation.providers.procedural import draw_sprite  # noqa: E402
from generation.sprites import make_sprite  # noqa: E402


def model_like_picture() -> Image.Image:
    """Like gpt-image output: 1024 px, fake pixels with soft edges and noise, on a flat off-white background."""
    sprite = draw_sprite("red dragon", size=64, seed=7).resize((1024, 1024), Image.Resampling.NEAREST)
    picture = Image.new("RGBA", sprite.size, (246, 244, 238, 255))
    picture.alpha_composite(sprite)
    picture = picture.convert("RGB").filter(ImageFilter.GaussianBlur(1.5))
    noise = np.random.default_rng(7).integers(-6, 7, (1024, 1024, 3))
    return Image.fromarray(np.clip(np.asarray(picture, int) + noise, 0, 255).astype(np.uint8))


def timings(work: Callable[[], object], runs: int) -> str:
    work()  # warm-up: imports, caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return f"min {times[0]:6.1f}  median {statistics.median(times):6.1f}  p95 {p95:6.1f} ms"


def main(runs: int) -> None:
    picture = model_like_picture()
    cases: dict[str, Callable[[], object]] = {
        "make_sprite 1024 -> 64, 16 colours": lambda: make_sprite(picture, size=64, colors=16),
        "make_sprite 1024 -> 64, 8 colours, outline": lambda: make_sprite(picture, size=64, colors=8, outline=True),
        "draw_sprite 64": lambda: draw_sprite("red dragon", size=64, seed=1),
        "draw_sprite 256": lambda: draw_sprite("red dragon", size=256, seed=1),
    }
    print(f"{runs} runs each")
    for name, work in cases.items():
        print(f"{name:44} {timings(work, runs)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
