"""The edge to image models: what to send each kind of model, and one classified call."""
from .adapters import ModelRequest, credentials_problem, provider_of, request_for, subject_matched
from .edge import Reply, call_model, classify
from .pricing import total as total_cost
from .runtime import OFFLINE_PROVIDER, load_litellm, routing_problem
from .signals import Signal

__all__ = ["OFFLINE_PROVIDER", "ModelRequest", "Reply", "Signal", "call_model", "classify", "credentials_problem",
           "load_litellm", "provider_of", "request_for", "routing_problem", "subject_matched", "total_cost"]
