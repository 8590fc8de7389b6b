"""Draw docs/contact_sheet.png: the offline model's sprites, as the API serves them.

Each prompt goes through draw_sprite then make_sprite (16 colours, transparent,
outline), at 16, 32 and 64 px, scaled up with nearest-neighbour on a checkerboard.

    .venv/bin/python bench/contact_sheet.py [output.png]
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The art lives under generation.providers, whose package loads the app's models: configure Django first.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sprite_backend.settings")
os.environ.setdefault("DEBUG", "true")
import django  # noqa: E402

django.setup()

from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from generation.providers.procedural import draw_sprite  # noqa: E402
from generation.sprites import make_sprite  # noqa: E402

PROMPTS = [
    "green slime", "red dragon", "golden sword", "blue potion", "skeleton warrior", "purple mushroom",
    "treasure chest", "fire elemental", "ice golem", "pink bunny", "silver shield", "orange fox",
    "red car", "pine tree", "rocket", "stone cottage", "golden key", "red heart", "blue star",
    "golden teapot",  # a subject it does not know: its creature, and subject_matched false
]
SIZES = (16, 32, 64)
SHOWN = 128  # every sprite is shown this big, whatever its size
PAD, LABEL_H, COLUMNS = 12, 16, 4


def checkerboard(width: int, height: int, cell: int = 8) -> Image.Image:
    board = Image.new("RGB", (width, height), (206, 206, 212))
    draw = ImageDraw.Draw(board)
    for y in range(0, height, cell):
        for x in range((y // cell % 2) * cell, width, 2 * cell):
            draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=(232, 232, 238))
    return board


def main(out: Path) -> None:
    font = ImageFont.load_default()
    tile_w = len(SIZES) * (SHOWN + PAD) - PAD
    tile_h = LABEL_H + SHOWN
    rows = -(-len(PROMPTS) // COLUMNS)
    width, height = PAD + COLUMNS * (tile_w + 2 * PAD), PAD + rows * (tile_h + PAD)
    sheet = Image.new("RGB", (width, height), (48, 48, 56))
    draw = ImageDraw.Draw(sheet)
    for i, prompt in enumerate(PROMPTS):
        left = PAD + (i % COLUMNS) * (tile_w + 2 * PAD)
        top = PAD + (i // COLUMNS) * (tile_h + PAD)
        draw.text((left, top), f"{prompt}  ({', '.join(map(str, SIZES))} px)", fill=(236, 236, 240), font=font)
        for j, size in enumerate(SIZES):
            sprite = make_sprite(draw_sprite(prompt, size=size), size=size, colors=16, outline=True)
            shown = sprite.resize((SHOWN, SHOWN), Image.Resampling.NEAREST)
            x = left + j * (SHOWN + PAD)
            sheet.paste(checkerboard(SHOWN, SHOWN), (x, top + LABEL_H))
            sheet.paste(shown, (x, top + LABEL_H), shown)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, optimize=True)
    print(f"wrote {out} ({width}x{height})")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "contact_sheet.png")
