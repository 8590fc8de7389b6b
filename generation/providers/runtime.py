"""LiteLLM, imported and configured once per process (the import takes seconds)."""
import functools
import os

OFFLINE_PROVIDER = "offline"


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
    return litellm
