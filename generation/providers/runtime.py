"""LiteLLM, imported and configured once per process (the import takes seconds)."""
import functools
import os

import httpx

OFFLINE_PROVIDER = "offline"
MAX_CONNECTIONS = 1000  # upstream connections per process


@functools.cache
def load_litellm():
    """Import and configure LiteLLM once per process (the import takes seconds)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_TELEMETRY", "False")
    import litellm

    from .offline import OfflineSpriteModel

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    litellm.set_verbose = False
    litellm.num_retries = 0
    litellm.drop_params = True
    litellm.custom_provider_map = [{"provider": OFFLINE_PROVIDER, "custom_handler": OfflineSpriteModel()}]
    litellm.utils.custom_llm_setup()
    # LiteLLM's OpenAI calls share one httpx.Client with httpx's default limit of 100
    # connections, so a worker's 101st call in flight queued behind the first hundred
    # (bench/capacity.py). The OpenAI SDK's own default, 1000, is above any worker's threads.
    litellm.client_session = httpx.Client(
        limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=100), follow_redirects=True)
    return litellm
