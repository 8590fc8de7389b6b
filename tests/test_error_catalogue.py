"""The error catalogue (generation/error_codes.py) is written once: the README's table and the
OpenAPI schema say what it says, and every answer's status and Retry-After come from it."""
import re
from pathlib import Path

import pytest
from django.test import Client

from generation.error_codes import ERRORS, described

ROOT = Path(__file__).resolve().parent.parent
CODE = re.compile(r"`([a-z_]+)`")


def readme_errors() -> list[tuple[int, str, str]]:
    """The README's error table: (status, code, when), in its order."""
    rows = []
    for line in (ROOT / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].isascii() and cells[0].isdigit() and cells[1].startswith("`"):
            rows.append((int(cells[0]), cells[1].strip("`"), cells[2]))
    return rows


def test_the_readme_lists_every_error_code_with_its_status_and_when():
    assert readme_errors() == [(kind.status, code, kind.when) for code, kind in ERRORS.items()]


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        response = Client().get("/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def error_responses(schema) -> list[tuple[str, str, int, str]]:
    return [(path, method, int(status), response["description"])
            for path, operations in schema["paths"].items() for method, operation in operations.items()
            for status, response in operation["responses"].items() if int(status) >= 400]


def test_every_error_status_in_the_schema_is_described_by_the_catalogue(schema):
    answered = error_responses(schema)
    statuses = {kind.status for kind in ERRORS.values()}

    assert len(answered) > 20
    for path, method, status, description in answered:
        assert status in statuses, (path, method, status)
        assert description == described(status), (path, method, status)
        named = set(CODE.findall(description)) & set(ERRORS)
        assert named == {code for code, kind in ERRORS.items() if kind.status == status}, (path, method, status)


def test_each_status_names_its_codes_once():
    assert described(404) == f"`not_found`: {ERRORS['not_found'].when}."
    assert described(429) == (f"`throttled` ({ERRORS['throttled'].when}) or "
                              f"`rate_limit_exceeded` ({ERRORS['rate_limit_exceeded'].when}).")


def test_only_answers_that_waiting_cures_carry_a_default_retry_after():
    defaults = {code for code, kind in ERRORS.items() if kind.retry_after is not None}

    assert defaults == {"request_in_progress", "rate_limit_exceeded", "interrupted", "service_unavailable",
                        "server_busy"}
    assert all(ERRORS[code].retry_after >= 1 for code in defaults)


def test_the_readme_names_the_failures_a_repeated_idempotency_key_generates_again():
    readme = " ".join((ROOT / "README.md").read_text().split())
    sentence = readme.split("failed in a way waiting cures (", 1)[1].split(")", 1)[0]

    assert set(CODE.findall(sentence)) == {code for code, kind in ERRORS.items() if kind.transient}
