"""The admin, registered when Django autodiscovers `generation.admin`."""
from .requests import *  # noqa: F401,F403
from .limits import *  # noqa: F401,F403
