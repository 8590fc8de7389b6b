"""Environment defaults, admin overrides, and start-up refusing bad values."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from generation.config import effective_settings

ROOT = Path(__file__).resolve().parent.parent


def start_django(**env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SPRITE_", "DATABASE_URL"))}
    environment.update({"DJANGO_SETTINGS_MODULE": "sprite_backend.settings", "DEBUG": "true", **env})
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
         "print(settings.SPRITE_GENERATION_DEFAULTS)"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SPRITE_LITELLM_MAX_RETRIES", "11"),
        ("SPRITE_LITELLM_MAX_RETRIES", "three"),
        ("SPRITE_LITELLM_RETRY_DELAY", "0.05"),
        ("SPRITE_LITELLM_MAX_WAIT", "601"),
        ("SPRITE_LITELLM_TIMEOUT", "0"),
        ("SPRITE_LITELLM_ENABLED", "maybe"),
        ("DEBUG", "perhaps"),
    ],
)
def test_it_refuses_to_start_with_a_bad_value_naming_the_variable(name, value):
    result = start_django(**{name: value})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr


def test_it_refuses_to_start_in_production_without_a_secret_key():
    result = start_django(DEBUG="false", SECRET_KEY="")

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_it_reads_the_generation_defaults_from_the_environment():
    result = start_django(
        SPRITE_LITELLM_MAX_RETRIES="5", SPRITE_LITELLM_RETRY_DELAY="2", SPRITE_LITELLM_MAX_WAIT="90",
        SPRITE_LITELLM_FALLBACK_MODELS="openai/gpt-image-1.5, offline/pixel-sprite", SPRITE_LITELLM_ENABLED="false",
        OPENAI_API_KEY="",
    )

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "'max_retries': 5" in out and "'retry_delay': 2.0" in out and "'max_wait': 90.0" in out
    assert "'fallback_models': ('openai/gpt-image-1.5', 'offline/pixel-sprite')" in out
    assert "'enabled': False" in out
    assert "'model': 'offline/pixel-sprite'" in out


def test_it_defaults_to_gpt_image_2_when_an_openai_key_is_set():
    result = start_django(OPENAI_API_KEY="sk-something")

    assert "'model': 'openai/gpt-image-2'" in result.stdout


@pytest.mark.django_db
def test_a_settings_row_with_blank_fields_follows_the_environment(configure, settings):
    settings.SPRITE_GENERATION_DEFAULTS = {**settings.SPRITE_GENERATION_DEFAULTS, "max_retries": 4, "max_wait": 12.0}
    configure(max_retries=None, model="", fallback_models="", max_wait=None)

    effective = effective_settings()

    assert (effective.max_retries, effective.max_wait, effective.fallback_models) == (4, 12.0, ())
    assert effective.sources["max_retries"] == effective.sources["model"] == "environment"


@pytest.mark.django_db
def test_an_admin_value_wins_over_the_environment_at_once(configure):
    configure(max_retries=7, retry_delay=3.0, fallback_models="openai/gpt-image-2, offline/b")

    effective = effective_settings()

    assert (effective.max_retries, effective.retry_delay) == (7, 3.0)
    assert effective.fallback_models == ("openai/gpt-image-2", "offline/b")
    assert effective.sources["max_retries"] == "admin"
    assert effective.sources["timeout"] == "environment"


@pytest.mark.django_db
def test_disabled_means_the_primary_model_only(configure):
    configure(enabled=False, fallback_models="offline/b")

    assert effective_settings().models == ("offline/pixel-sprite",)
