"""Named presets of sprite options, plus what each tells the model."""
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Style:
    name: str
    description: str
    colors: int
    outline: bool
    transparent: bool = True
    prompt_suffix: str = ""
    # Passed to gpt-image models (OpenAI's Images API); other providers drop them.
    model_params: dict = field(default_factory=dict)

    def public(self) -> dict:
        data = asdict(self)
        del data["prompt_suffix"], data["model_params"]
        return data


_GPT_IMAGE = {"size": "1024x1024", "quality": "low", "output_format": "png"}

STYLES = {
    style.name: style
    for style in (
        Style(
            name="pixel",
            description="Clean pixel art, 16 colours.",
            colors=16,
            outline=False,
            prompt_suffix="pixel art game sprite, single subject, centered, full body, plain flat background, "
            "crisp hard-edged pixels, no text, no shadow",
            model_params=_GPT_IMAGE,
        ),
        Style(
            name="retro",
            description="8-bit console look: 8 colours and a dark outline.",
            colors=8,
            outline=True,
            prompt_suffix="8-bit retro console game sprite, limited palette, bold silhouette, single subject, "
            "centered, plain flat background, no text",
            model_params=_GPT_IMAGE,
        ),
        Style(
            name="icon",
            description="Inventory item icon with an outline, 12 colours.",
            colors=12,
            outline=True,
            prompt_suffix="pixel art inventory item icon, single object, centered, plain flat background, no text",
            model_params=_GPT_IMAGE,
        ),
        Style(
            name="detailed",
            description="Richer shading, 32 colours.",
            colors=32,
            outline=False,
            prompt_suffix="detailed pixel art game sprite with soft shading, single subject, centered, "
            "plain flat background, no text",
            model_params=_GPT_IMAGE,
        ),
    )
}
DEFAULT_STYLE = "pixel"
