"""What a client asked for, as the engine reads it: validated by the API, stored on the row."""
from dataclasses import asdict, dataclass

from ..models import GenerationRequest


@dataclass(frozen=True)
class SpriteSpec:
    prompt: str
    style: str
    size: int
    transparent: bool
    colors: int
    outline: bool
    seed: int | None = None
    max_wait: float | None = None
    timeout: float | None = None  # shortens TOTAL_TIMEOUT for this request

    def options(self) -> dict:
        """What the row keeps beside its prompt, style and size."""
        return {k: v for k, v in asdict(self).items() if k not in ("prompt", "style", "size")}


def spec_of(row: GenerationRequest) -> SpriteSpec:
    o = row.options
    return SpriteSpec(prompt=row.prompt, style=row.style, size=row.size, transparent=o["transparent"],
                      colors=o["colors"], outline=o["outline"], seed=o.get("seed"), max_wait=o.get("max_wait"),
                      timeout=o.get("timeout"))
