"""Test settings: the real ones, made hermetic.

Whatever the developer's shell holds (a real OPENAI_API_KEY, say), tests
never reach a real provider: the OpenAI base URL points at a closed port
unless a test starts its own local upstream. The generation defaults come
from a clean environment, so from generation/tunables.py: never restated here.
"""
import os

from generation.tunables import TUNABLES

os.environ.setdefault("DEBUG", "true")
os.environ["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"
os.environ.pop("OPENAI_API_BASE", None)
os.environ["OPENAI_API_KEY"] = "sk-test-not-a-real-key"
for name in ("AZURE_API_BASE", "AZURE_API_KEY", "AZURE_API_VERSION", "GEMINI_API_BASE", "GEMINI_API_KEY",
             "GOOGLE_API_KEY"):
    os.environ.pop(name, None)  # tests reach Azure and Google only through their own local servers
for tunable in TUNABLES:
    os.environ.pop(tunable.env, None)
# With a key set the default primary would be OpenAI's; tests that want it configure it.
os.environ["SPRITE_LITELLM_MODEL"] = "offline/pixel-sprite"

from sprite_backend.settings import *  # noqa: E402,F403

SPRITE_THROTTLE_RATE = "1000/min"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user creation in tests only
