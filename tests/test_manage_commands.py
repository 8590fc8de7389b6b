"""`manage.py` as an operator meets it: fast to start (no LiteLLM for the system checks in the
usual configurations) and one clear line when the configuration is wrong."""
import subprocess
import sys

import pytest

from generation.providers import load_litellm
from generation.providers.runtime import PLAIN_PROVIDERS, routing_problem
from tests.processes import ROOT, project_env

CHECK_THEN_SAY_IF_LITELLM_WAS_IMPORTED = (
    "import sys, django; django.setup(); from django.core.management import call_command; "
    "call_command('check'); print('litellm imported' if 'litellm' in sys.modules else 'no litellm')")


@pytest.mark.parametrize("key", ["", "sk-test"], ids=["offline-model", "openai-model"])
def test_the_system_checks_do_not_import_litellm(key, tmp_path):
    env = project_env(DEBUG="true", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", OPENAI_API_KEY=key,
                      DJANGO_SETTINGS_MODULE="sprite_backend.settings")

    done = subprocess.run([sys.executable, "-c", CHECK_THEN_SAY_IF_LITELLM_WAS_IMPORTED], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "no litellm"


@pytest.mark.parametrize("provider", PLAIN_PROVIDERS)
@pytest.mark.parametrize("name", ["gpt-image-2", "pixel-sprite", "a/b", "x"])
def test_strings_answered_without_litellm_are_ones_litellm_routes(provider, name):
    model = f"{provider}/{name}"
    routed_name, routed_provider, *_ = load_litellm().get_llm_provider(model)

    assert routing_problem(model) is None
    assert (routed_provider, routed_name) == (provider, name)


@pytest.mark.parametrize("model", ["openai/", "offline/", "foo/bar", "bad model", ""])
def test_strings_that_do_not_route_are_still_refused(model):
    assert routing_problem(model) is not None


def test_check_deploy_without_a_secret_key_says_so_in_one_line():
    env = project_env(DEBUG="false", SECRET_KEY="")

    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 1
    assert done.stderr.splitlines() == ["ImproperlyConfigured: SECRET_KEY must be set when DEBUG is off"]


def test_a_bad_value_in_the_environment_is_one_line_naming_it():
    env = project_env(DEBUG="true", SPRITE_LITELLM_MAX_RETRIES="99")

    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)

    assert done.returncode == 1
    assert done.stderr.splitlines() == ["ImproperlyConfigured: SPRITE_LITELLM_MAX_RETRIES='99' is outside 0..10"]
