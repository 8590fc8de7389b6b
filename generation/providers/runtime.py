"""LiteLLM, imported and configured once per process (the import takes seconds)."""
import contextlib
import contextvars
import functools
import os
from collections.abc import Iterator

import httpx

from .transport import BoundedTransport

OFFLINE_PROVIDER = "offline"
MAX_CONNECTIONS = 1000  # upstream connections per process

# LiteLLM 1.110.2's Azure image route drops the answer's headers on success (its
# `additional_headers` is empty), and Azure's quota is in them: the shared client's response
# hook keeps the last answer's headers for the call in progress in this thread or task.
_ANSWER_HEADERS: contextvars.ContextVar[list[httpx.Headers] | None] = contextvars.ContextVar("answer_headers",
                                                                                              default=None)


def _keep_headers(response: httpx.Response) -> None:
    if (box := _ANSWER_HEADERS.get()) is not None:
        box[:] = [response.headers]


@contextlib.contextmanager
def answer_headers() -> Iterator[list[httpx.Headers]]:
    """Within the block, the list holds the headers of the last answer LiteLLM's shared client read."""
    box: list[httpx.Headers] = []
    token = _ANSWER_HEADERS.set(box)
    try:
        yield box
    finally:
        _ANSWER_HEADERS.reset(token)


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
        follow_redirects=True, event_hooks={"response": [_keep_headers]})
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
