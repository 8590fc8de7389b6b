"""Generate a sprite with the official `openai` SDK pointed at the sprite backend.

    SPRITE_BASE_URL=http://127.0.0.1:8000 SPRITE_TOKEN=... python docs/examples/openai_sdk.py sprite.png
"""
import base64
import os
import sys

import openai


def main(argv: list[str]) -> int:
    out = argv[1] if len(argv) > 1 else "sprite.png"
    client = openai.OpenAI(
        base_url=os.environ.get("SPRITE_BASE_URL", "http://127.0.0.1:8000").rstrip("/") + "/v1",
        api_key=os.environ["SPRITE_TOKEN"],  # our API token, not an OpenAI key
        max_retries=2,  # the SDK sleeps our Retry-After (up to 120 s) before each retry
    )
    try:
        result = client.images.generate(
            model="retro",  # a style from GET /v1/models; OpenAI's names are ignored
            prompt="a green slime with big eyes",
            size="64x64",
            response_format="b64_json",
            extra_body={"colors": 8, "seed": 7, "max_wait": 20},  # our sprite fields
        )
    except openai.RateLimitError as exc:
        print(f"rate limited; try again in {exc.response.headers.get('retry-after')} s: {exc.message}", file=sys.stderr)
        return 2
    except openai.APIStatusError as exc:
        print(f"{exc.status_code} {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    with open(out, "wb") as f:
        f.write(base64.b64decode(result.data[0].b64_json))
    print(f"{out}: drawn by {result.model_extra.get('model')}, cost_usd={result.model_extra.get('cost_usd')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
