"""The OpenAPI schema at /v1/schema/ and the docs page at /v1/docs/, which asks no other host."""
import re
from urllib.parse import urlsplit

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.test import Client
from openapi_spec_validator import validate

from generation.models import ApiToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema() -> dict:
    response = Client().get("/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_valid_openapi_3(schema):
    validate(schema)  # raises on any violation of the OpenAPI 3 specification

    assert schema["openapi"].startswith("3.")


def test_the_schema_is_served_as_yaml_by_default_without_a_token():
    response = Client().get("/v1/schema/")

    assert response.status_code == 200
    assert yaml.safe_load(response.content)["paths"]


def test_the_schema_describes_the_v1_endpoints_and_nothing_else(schema):
    assert {"/v1/generate", "/v1/generations/{id}", "/v1/styles", "/v1/metrics"} <= set(schema["paths"])
    assert all(p.startswith("/v1/") and not p.startswith(("/v1/schema", "/v1/docs")) for p in schema["paths"])


def test_every_error_is_the_contracts_shape_with_a_request_id(schema):
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"error", "request_id"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                assert "X-Request-ID" in response["headers"], (path, method, status)
                if int(status) >= 400:
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    # OpenAI's Images API answers its own error shape, so that OpenAI's SDKs read it.
                    shape = "OpenAIError" if path.startswith(("/v1/images/", "/v1/models")) else "Error"
                    assert ref == f"#/components/schemas/{shape}", (path, method, status)


def test_the_generate_operation_describes_its_headers_and_the_202_flow(schema):
    generate = schema["paths"]["/v1/generate"]["post"]
    parameters = {p["name"] for p in generate["parameters"] if p["in"] == "header"}
    responses = generate["responses"]

    assert {"Idempotency-Key", "Prefer", "X-Request-ID"} <= parameters
    assert {"Location", "Retry-After"} <= set(responses["202"]["headers"])
    assert "Retry-After" in responses["429"]["headers"] and "Retry-After" in responses["503"]["headers"]
    assert {"200", "202", "400", "401", "413", "422", "429", "502", "503", "504"} <= set(responses)
    assert generate["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("GenerateRequest")
    body = schema["components"]["schemas"]["GenerateRequest"]
    assert body["required"] == ["prompt"] and "async" in body["properties"]


def test_the_docs_page_links_only_to_this_host():
    response = Client().get("/v1/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    links = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", html) + re.findall(r"""url\(["']?([^"')]+)""", html)
    assert links and all(not urlsplit(link).netloc for link in links), links
    assert "swagger-ui-bundle.js" in html


@pytest.mark.browser
def test_the_docs_page_renders_the_api_without_asking_another_host(browser, live_server):
    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{live_server.url}/v1/docs/")
    page.wait_for_selector(".opblock-summary-path", timeout=15000)

    paths = page.locator(".opblock-summary-path").all_inner_texts()
    page.close()
    assert {"/v1/generate", "/v1/styles"} <= {p.strip() for p in paths}
    hosts = {urlsplit(url).netloc for url in requested if not url.startswith("data:")}
    assert hosts == {urlsplit(live_server.url).netloc}, requested


def test_the_schema_bounds_a_requests_own_budgets_as_validation_does(schema):
    fields = schema["components"]["schemas"]["GenerateRequest"]["properties"]

    assert (fields["timeout"]["minimum"], fields["timeout"]["maximum"]) == (1, 900)
    assert (fields["max_wait"]["minimum"], fields["max_wait"]["maximum"]) == (0, 600)


@pytest.mark.parametrize("path", ["/v1/generate", "/v1/images/generations"])
def test_the_example_bodies_are_ones_the_api_accepts(schema, api, path):
    examples = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["examples"]
    body = next(iter(examples.values()))["value"]

    response = api.post(path, body, format="json")

    assert response.status_code == 200, response.content
    assert body["prompt"].isprintable() and abs(body.get("seed", 0)) < 2**53  # readable, and exact in JavaScript


@pytest.mark.browser
def test_a_new_user_can_authorize_and_generate_from_the_docs_page(browser, live_server, transactional_db):
    user = get_user_model().objects.create_user("docs-reader")
    _, key = ApiToken.objects.create_key(user=user, name="docs")
    page = browser.new_page()
    try:
        page.goto(f"{live_server.url}/v1/docs/")
        page.click("button.authorize", timeout=15000)
        page.fill(".modal-ux input", key)
        page.click(".modal-ux button.authorize")
        page.click(".modal-ux button.btn-done")
        operation = page.locator(".opblock-post", has=page.locator('[data-path="/v1/generate"]'))
        operation.locator(".opblock-summary").click()
        operation.locator("button.try-out__btn").click()
        operation.locator("button.execute").click()
        status = operation.locator(".live-responses-table .response .response-col_status").first
        status.wait_for(timeout=30000)
        shown, body = status.inner_text().strip(), operation.locator(".live-responses-table .microlight").first.inner_text()
    finally:
        page.close()

    assert shown == "200", body
    assert '"status": "succeeded"' in body


def test_the_readmes_generate_table_lists_every_field_the_api_takes():
    from pathlib import Path

    from generation.api.serializers import GenerateSerializer

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    table = readme.split("### `POST /v1/generate`", 1)[1].split("\n\n", 2)[1]
    rows = {re.match(r"\| `(\w+)` \|", line).group(1) for line in table.splitlines() if line.startswith("| `")}

    assert rows == set(GenerateSerializer().fields)
