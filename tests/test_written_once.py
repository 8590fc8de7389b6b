"""Facts written once, in a project that stands alone: one rule for model strings, one place that
sets LiteLLM's environment, and no citation of a document outside the repository."""
import ast
import subprocess
from pathlib import Path

import pytest

from generation.admin.forms import GenerationSettingsForm
from generation.admin.limits import ModelRateLimitForm
from generation.providers import routing_problem

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["openai/gpt-image-2", "offline/pixel-sprite", "azure/my-deployment", "vertex_ai/imagen-4.0-generate-001",
          "nowhere/some-model", "openai/gpt image", "", " ", "openai/", "gpt-image-1", "openai/\x00"]


def tracked(*patterns: str) -> list[Path]:
    names = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / name for name in names.stdout.split()]


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS)
def test_the_admin_forms_refuse_exactly_the_model_strings_start_up_refuses(model):
    problem = routing_problem(model)
    rate_limit = ModelRateLimitForm(data={"model": model, "requests_per_minute": "5"})
    settings_form = GenerationSettingsForm(data={"enabled": "unknown", "model": "azure/primary-deployment",
                                                 "fallback_models": model})

    assert rate_limit.is_valid() is (problem is None), rate_limit.errors
    if model.strip():  # a blank fallback list is no model at all
        assert ("fallback_models" not in settings_form.errors) is (problem is None), settings_form.errors
    if problem is not None and model.strip() and "\x00" not in model:  # Django's own check of NUL speaks first
        assert rate_limit.errors["model"] == [f"{problem}."]


def test_litellm_is_configured_in_one_place():
    runtime_files = [*tracked("generation", "sprite_backend"), *tracked("Dockerfile", "docker-compose.yml",
                                                                       "gunicorn.conf.py", "Makefile", ".env.example")]
    setting = [path.relative_to(ROOT).as_posix() for path in runtime_files
               if path.is_file() and "LITELLM_LOCAL_MODEL_COST_MAP" in path.read_text(errors="replace")]

    assert setting == ["generation/providers/runtime.py"]


def test_only_the_offline_model_imports_litellm_at_module_level():
    """Every other import goes through providers.load_litellm, which sets LiteLLM's environment first."""
    importers = []
    for path in tracked("generation/*.py", "generation/**/*.py", "sprite_backend/*.py"):
        for node in ast.parse(path.read_text()).body:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(name == "litellm" or name.startswith("litellm.") for name in names):
                importers.append(path.relative_to(ROOT).as_posix())

    assert importers == ["generation/providers/offline.py", "generation/providers/offline.py"]


# Spelled in two halves, so that this file does not cite them either (`grep -rn` over the repository finds none).
OUTSIDE = ["CONTR" + "ACT", "work/" + "shared", "../" + "shared"]


def test_the_repository_cites_only_its_own_documents():
    patterns = [arg for word in OUTSIDE for arg in ("-e", word)]
    found = subprocess.run(["git", "grep", "-n", "-I", *patterns], cwd=ROOT, capture_output=True, text=True)

    assert found.returncode == 1 and found.stdout == "", found.stdout  # 1: nothing found
