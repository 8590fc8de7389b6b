"""Peak memory of one request's image handling: decode the upstream's base64 PNG, make the sprite.

    .venv/bin/python bench/image_memory.py

Each case runs in a fresh child process (so one case's peak cannot hide another's) and
reports the growth of the process's peak RSS (VmHWM) over its state just before the case,
with LiteLLM and the sprite pipeline already imported. Cases: the 1024 px picture a
gpt-image model returns, the largest picture decoded as it is (1536 px), the 4096 px ceiling
(thinned to 1365 px once decoded), and an 8000 px picture (refused from its header).
"""
from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (label, side in px, noisy): noise compresses badly, so its base64 is the largest for its size.
CASES = [("1024 x 1024, noisy (a gpt-image answer)", 1024, True),
         ("1536 x 1536, noisy (the largest picture not thinned)", 1536, True),
         ("4096 x 4096, smooth (the pixel ceiling)", 4096, False),
         ("4096 x 4096, noisy (50 MB PNG)", 4096, True),
         ("8000 x 8000, smooth", 8000, False),
         ("8000 x 8000, smooth, ceiling lifted (as before)", 8000, None)]


def peak_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def picture_png(size: int, noisy: bool) -> bytes:
    import io

    import numpy as np
    from PIL import Image

    if noisy:
        pixels = np.random.default_rng(7).integers(0, 256, (size, size, 3), dtype=np.uint8)
    else:
        ramp = np.linspace(0, 255, size, dtype=np.uint8)
        pixels = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], ramp[None, ::-1]), axis=-1)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def one_case(size: int, noisy: bool | None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from generation.providers import load_litellm
    from generation.providers.edge import decode_image
    from generation.sprites import make_sprite, png_bytes

    load_litellm()
    if noisy is None:  # the comparison: what the same image cost before the ceiling
        import generation.sprites as sprites

        sprites.MAX_PICTURE_SIDE, sprites.WORK_SIDE, noisy = 10**6, 10**6, False
    b64 = base64.b64encode(picture_png(size, noisy)).decode("ascii")  # what LiteLLM hands us: already in memory
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = peak_kb()
    reply = decode_image(b64)
    if reply.ok:
        png_bytes(make_sprite(reply.image, size=64, colors=16, transparent=True, outline=True))
        outcome = "decoded"
    else:
        outcome = f"refused: {reply.message}"
    print(f"{(peak_kb() - before) / 1024:.0f}\t{len(b64) / 2**20:.1f}\t{outcome}")


def main() -> None:
    if len(sys.argv) > 3 and sys.argv[1] == "--case":
        one_case(int(sys.argv[2]), {"noisy": True, "smooth": False}.get(sys.argv[3]))
        return
    print("| upstream image | base64 MiB | peak RSS growth MiB | outcome |\n| --- | --- | --- | --- |")
    for label, size, noisy in CASES:
        out = subprocess.run([sys.executable, __file__, "--case", str(size), {True: "noisy", False: "smooth", None: "lifted"}[noisy]],
                             cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip().splitlines()[-1]
        growth, mib, outcome = out.split("\t")
        print(f"| {label} | {mib} | {growth} | {outcome} |")


if __name__ == "__main__":
    main()
