"""Generate a sprite with LiteLLM's `image_generation`, `api_base` pointed at the sprite backend.

    SPRITE_BASE_URL=http://127.0.0.1:8000 SPRITE_TOKEN=... python docs/examples/litellm_client.py sprite.png
"""
import base64
import os
import sys

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # don't fetch the cost map at import

import litellm  # noqa: E402


def main(argv: list[str]) -> int:
    out = argv[1] if len(argv) > 1 else "sprite.png"
    try:
        result = litellm.image_generation(
            model="openai/pixel",  # "openai/" routes to an OpenAI-compatible server; "pixel" is our style
            prompt="a treasure chest",
            size="64x64",
            api_base=os.environ.get("SPRITE_BASE_URL", "http://127.0.0.1:8000").rstrip("/") + "/v1",
            api_key=os.environ["SPRITE_TOKEN"],
            extra_body={"colors": 12, "outline": True},  # our sprite fields
            max_retries=2,
        )
    except litellm.RateLimitError as exc:
        print(f"rate limited; try again in {exc.response.headers.get('retry-after')} s", file=sys.stderr)
        return 2
    except litellm.APIError as exc:
        print(f"{exc.status_code}: {exc.message}", file=sys.stderr)
        return 1
    with open(out, "wb") as f:
        f.write(base64.b64decode(result.data[0].b64_json))
    print(f"{out}: written")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
