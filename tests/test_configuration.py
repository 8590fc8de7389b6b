"""Environment defaults, admin overrides, and start-up refusing bad values."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.validators import MaxValueValidator, MinValueValidator
from rest_framework.throttling import SimpleRateThrottle

from generation.admin.forms import GenerationSettingsForm
from generation.api.serializers import GenerateSerializer
from generation.config import FIELDS, effective_settings
from generation.models import GenerationSettings
from generation.tunables import BY_NAME, TUNABLES, parse_rate

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
        ("SPRITE_LITELLM_TOTAL_TIMEOUT", "4"),
        ("SPRITE_LITELLM_TOTAL_TIMEOUT", "901"),
        ("DEBUG", "perhaps"),
        # Not plain numbers: django-environ read 1e1 as 11.0 and 2m as 2.0.
        ("SPRITE_LITELLM_RETRY_DELAY", "1e1"),
        ("SPRITE_LITELLM_MAX_WAIT", "1e2"),
        ("SPRITE_LITELLM_TIMEOUT", "2m"),
        ("SPRITE_LITELLM_TOTAL_TIMEOUT", "nan"),
        ("SPRITE_LITELLM_MAX_WAIT", "inf"),
        ("SPRITE_LITELLM_MAX_RETRIES", "0x10"),
        ("SPRITE_LITELLM_MAX_RETRIES", "2.0"),
        ("CONN_MAX_AGE", "1e3"),
        ("ADMIN_LOCKOUT_FAILURES", "0"),
        ("ADMIN_LOCKOUT_MINUTES", "15m"),
        ("ADMIN_PROXY_COUNT", "6"),
        ("SPRITE_WORKER_CONCURRENCY", "0"),
        ("SPRITE_WORKER_CONCURRENCY", "1001"),
        ("SPRITE_WORKER_CONCURRENCY", "1e2"),
        ("SPRITE_WORKER_DB_POOL_SIZE", "0"),
        ("SPRITE_WORKER_METRICS_PORT", "70000"),
        # Rates DRF would misread (it looks at the first letter only) or fail on at every request.
        ("SPRITE_THROTTLE_RATE", "abc"),
        ("SPRITE_THROTTLE_RATE", "10/fortnight"),
        ("SPRITE_THROTTLE_RATE", "10/mxyz"),
        ("SPRITE_THROTTLE_RATE", "0/min"),
        ("SPRITE_THROTTLE_RATE", "1.5/s"),
    ],
)
@pytest.mark.process
def test_it_refuses_to_start_with_a_bad_value_naming_the_variable(name, value):
    result = start_django(**{name: value})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{name}={value!r}" in result.stderr.strip().splitlines()[-1]


@pytest.mark.process
def test_it_refuses_to_start_in_production_without_a_secret_key():
    result = start_django(DEBUG="false", SECRET_KEY="")

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.process
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


@pytest.mark.process
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


@pytest.mark.parametrize("name", [t.name for t in TUNABLES if t.kind in ("int", "float")])
@pytest.mark.parametrize("text", ["1e1", "2m", "nan", "inf", "-inf", "0x10", "1_0", "", "ten", "1,5", "١٢"])
def test_a_number_setting_takes_plain_numbers_only(name, text):
    with pytest.raises(ValueError, match="not a plain"):
        BY_NAME[name].parse(text)


@pytest.mark.parametrize(("name", "text", "value"), [
    ("max_retries", "0", 0), ("max_retries", " 10 ", 10), ("retry_delay", "0.1", 0.1), ("retry_delay", "60", 60.0),
    ("max_wait", "0", 0.0), ("max_wait", "12.5", 12.5), ("timeout", "1", 1.0), ("total_timeout", "5", 5.0),
    ("total_timeout", "900.0", 900.0), ("enabled", "off", False), ("enabled", "TRUE", True),
    ("fallback_models", " a/b , ,c/d ", ("a/b", "c/d")),
])
def test_a_setting_reads_what_an_operator_means(name, text, value):
    assert BY_NAME[name].parse(text) == value


@pytest.mark.parametrize("rate", ["10/s", "10/sec", "10/second", "120/min", "120/m", "120/minute", "5/h", "5/hour",
                                  "1/d", "1/day"])
def test_it_takes_a_throttle_rate_that_drf_reads_the_same_way(rate):
    number, per = rate.split("/")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[per[0]]

    assert parse_rate(f" {rate} ") == rate
    assert SimpleRateThrottle.parse_rate(None, rate) == (int(number), seconds)


@pytest.mark.process
def test_it_starts_with_a_clean_environment_on_the_table_defaults():
    result = start_django(OPENAI_API_KEY="")

    assert result.returncode == 0, result.stderr
    expected = {t.name: t.default for t in TUNABLES} | {"model": "offline/pixel-sprite"}
    assert result.stdout.strip() == str(expected)


# --- one table, read by every reader ----------------------------------------------------------------

def test_every_reader_knows_every_setting():
    assert FIELDS == tuple(t.name for t in TUNABLES)
    assert set(GenerationSettingsForm.Meta.fields) == set(FIELDS)
    assert all(GenerationSettings._meta.get_field(name).null or name in ("model", "fallback_models")
               for name in FIELDS)


@pytest.mark.parametrize("tunable", [t for t in TUNABLES if t.bounded], ids=lambda t: t.name)
def test_the_model_validators_and_help_follow_the_table(tunable):
    field = GenerationSettings._meta.get_field(tunable.name)
    low = max(v.limit_value for v in field.validators if isinstance(v, MinValueValidator))
    high = min(v.limit_value for v in field.validators if isinstance(v, MaxValueValidator))

    assert (low, high) == (tunable.low, tunable.high)
    assert field.help_text == tunable.help_text
    assert f"{tunable.low:g}–{tunable.high:g}" in field.help_text


@pytest.mark.parametrize(("field", "low", "high"), [("max_wait", 0, 600), ("timeout", 1, 900)])
def test_the_request_fields_follow_the_table(field, low, high):
    declared = GenerateSerializer().fields[field]

    assert (declared.min_value, declared.max_value) == (low, high)


def readme_table() -> dict[str, list[str]]:
    """The README's rows of generation settings: variable -> its cells after the name."""
    rows = {}
    for line in (ROOT / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0].startswith("`SPRITE_LITELLM_"):
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def test_the_readme_lists_every_setting_with_its_default_and_bounds():
    rows = readme_table()

    assert set(rows) == {t.env for t in TUNABLES}
    for tunable in TUNABLES:
        default, bounds, meaning = rows[tunable.env]
        assert bounds == (f"{tunable.low:g}–{tunable.high:g}" if tunable.bounded else ""), tunable.env
        if tunable.kind in ("int", "float"):
            assert float(default.strip("`")) == tunable.default, tunable.env
        elif tunable.kind == "bool":
            assert default == f"`{str(tunable.default).lower()}`", tunable.env
        elif tunable.kind == "models":
            assert default == "none" and tunable.default == (), tunable.env
        else:  # the primary model's default depends on OPENAI_API_KEY
            assert "`offline/pixel-sprite`" in default, tunable.env
        assert meaning, tunable.env


@pytest.mark.django_db
def test_the_total_timeout_follows_the_environment_until_an_admin_sets_it(configure):
    assert effective_settings().total_timeout == BY_NAME["total_timeout"].default
    assert effective_settings().sources["total_timeout"] == "environment"

    configure(total_timeout=60.0)

    assert (effective_settings().total_timeout, effective_settings().sources["total_timeout"]) == (60.0, "admin")


@pytest.mark.django_db
@pytest.mark.parametrize(("enabled", "retries"), [(True, 4), (False, 0), (None, 4)])
def test_retries_per_model_are_none_when_disabled(configure, enabled, retries):
    configure(enabled=enabled, max_retries=4)

    assert effective_settings().retries_per_model == retries
