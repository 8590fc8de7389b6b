"""Kept for the tests that import it from here: the launchers are tests/processes.py's, written once."""
from tests.processes import ROOT, VENV_BIN, Gunicorn, gunicorn, manage, project_env, stop, wait_for

__all__ = ["ROOT", "VENV_BIN", "Gunicorn", "gunicorn", "manage", "project_env", "stop", "wait_for"]
