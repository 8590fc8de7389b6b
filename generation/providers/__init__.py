"""The edge to image models: what to send each kind of model, and one classified call."""
from .adapters import ModelRequest, missing_settings, provider_of, request_for
from .edge import Reply, call_model, classify
from .pricing import total as total_cost
from .runtime import OFFLINE_PROVIDER, load_litellm, routing_problem
from .signals import Signal

__all__ = ["OFFLINE_PROVIDER", "ModelRequest", "Reply", "Signal", "call_model", "classify", "load_litellm",
           "missing_settings", "provider_of", "request_for", "routing_problem", "total_cost"]
