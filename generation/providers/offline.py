"""The built-in offline model: a LiteLLM custom provider, no weights, no network.

Reached as `offline/<anything>` through `litellm.image_generation`, exactly
like a remote model, so the retry loop, metrics and post-processing treat it
the same way.
"""
import base64
import time

from litellm import CustomLLM
from litellm.types.utils import ImageObject, ImageResponse


DEFAULT_SIZE = 64


def _size(value) -> int:
    """'64x64' (OpenAI's form) or 64 -> 64."""
    try:
        return int(str(value).lower().split("x")[0])
    except ValueError:
        return DEFAULT_SIZE


class OfflineSpriteModel(CustomLLM):
    def image_generation(self, model, prompt, api_key, api_base, model_response, optional_params, logging_obj,
                         timeout=None, client=None) -> ImageResponse:
        from .procedural import draw_sprite  # the art, loaded on the first offline call
        from ..sprites import png_bytes

        seed = optional_params.get("seed")
        size = _size(optional_params.get("size", DEFAULT_SIZE))
        image = draw_sprite(prompt, size=min(max(size, 8), 1024), seed=seed)
        b64 = base64.b64encode(png_bytes(image)).decode("ascii")
        return ImageResponse(created=int(time.time()), data=[ImageObject(b64_json=b64)])

    async def aimage_generation(self, *args, **kwargs) -> ImageResponse:
        return self.image_generation(*args, **kwargs)
