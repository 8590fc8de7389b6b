"""The edge to image models."""
from .edge import *  # noqa: F401,F403
