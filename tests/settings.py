"""Test settings: the real ones, made hermetic.

Whatever the developer's shell holds (a real OPENAI_API_KEY, say), tests
never reach a real provider: the OpenAI base URL points at a closed port
unless a test starts its own local upstream.
"""
import os

os.environ.setdefault("DEBUG", "true")
os.environ["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"
os.environ.pop("OPENAI_API_BASE", None)
os.environ["OPENAI_API_KEY"] = "sk-test-not-a-real-key"

from sprite_backend.settings import *  # noqa: E402,F403

OPENAI_API_KEY = os.environ["OPENAI_API_KEY"]
OPENAI_BASE_URL = os.environ["OPENAI_BASE_URL"]
SPRITE_GENERATION_DEFAULTS = {
    "enabled": True,
    "model": OFFLINE_MODEL,  # noqa: F405
    "max_retries": 3,
    "retry_delay": 1.0,
    "fallback_models": (),
    "max_wait": 30.0,
    "timeout": 120.0,
}
SPRITE_THROTTLE_RATE = "1000/min"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user creation in tests only
