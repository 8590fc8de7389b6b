"""LiteLLM, imported and configured once per process (the import takes seconds)."""
import functools
import os

import httpx

from .transport import BoundedTransport

OFFLINE_PROVIDER = "offline"
MAX_CONNECTIONS = 1000  # upstream connections per process


@functools.cache
def load_litellm():
    """Import and configure LiteLLM once per process (the import takes seconds).

    The one place the project sets LiteLLM's environment: every import of LiteLLM goes through
    here (`offline.py` is imported below). Without LITELLM_LOCAL_MODEL_COST_MAP, the import would
    fetch the cost map over the network first (and price calls by whatever it got).
    """
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
    # Its transport bounds each call on the wall clock and in bytes (transport.py).
    litellm.client_session = httpx.Client(
        transport=BoundedTransport(limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=100)),
        follow_redirects=True)
    return litellm


# Providers whose `provider/name` strings LiteLLM always routes: ours, and OpenAI's. Answered
# without importing LiteLLM, so that `manage.py check` (run by every manage.py command) stays
# fast in the usual configurations; tests/test_credentials_and_models.py holds this to LiteLLM.
PLAIN_PROVIDERS = (OFFLINE_PROVIDER, "openai")


def routing_problem(model: str) -> str | None:
    """Why LiteLLM cannot route this model string, or None when it can (no call is made)."""
    if not model or not model.isprintable() or any(ch.isspace() for ch in model):
        return f"{model!r} is not a model string: use provider/model, e.g. openai/gpt-image-2"
    provider, _, name = model.partition("/")
    if provider in PLAIN_PROVIDERS and name:
        return None
    litellm = load_litellm()
    try:
        name, provider, *_ = litellm.get_llm_provider(model)
    except Exception:  # LiteLLM raises its BadRequestError for an unknown provider
        return f"{model!r} has no provider LiteLLM knows: use provider/model, e.g. openai/gpt-image-2"
    if not name:
        return f"{model!r} names a provider ({provider}) but no model"
    return None
