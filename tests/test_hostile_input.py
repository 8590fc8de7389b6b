"""Hostile input, small but real: digits that are not ASCII, JSON in another charset, an upstream's
words with newlines and markup, NUL in an address. Each is a clear 4xx or a quoted, escaped
text; never a 500, a forged log line or a stored `<script>`."""
import io
import json
import logging
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib import admin
from django.urls import reverse
from rest_framework.test import APIClient

from generation.error_codes import message_of
from generation.logfmt import EventFormatter, RequestIdFilter
from generation.models import GenerationAttempt, GenerationRequest

pytestmark = pytest.mark.django_db

COMPAT = "/v1/images/generations"
SCRIPT = "<script>alert(1)</script>"
FORGED = "2026-12-05 10:00:00,000 INFO generation generation_succeeded request_id=forged"


def assert_openai_400(response, param: str) -> dict:
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, "invalid_request")
    return error


# --- digits ----------------------------------------------------------------------------------

@pytest.mark.parametrize("size", ["²x²", "٦٤x٦٤", "６４x６４", "۶۴x۶۴", "64x٦٤", "𝟔𝟒x𝟔𝟒", "⁶⁴x⁶⁴"])
def test_a_size_in_digits_other_than_ascii_is_a_400_in_openais_shape(api, size):
    error = assert_openai_400(api.post(COMPAT, {"prompt": "coin", "size": size}, format="json"), "size")

    assert "ASCII digits" in error["message"]
    assert GenerationRequest.objects.count() == 0


@pytest.mark.parametrize("field", ["size", "colors", "seed", "max_wait", "timeout"])
@pytest.mark.parametrize("text", ["٦٤", "６４", "64"])
def test_a_number_sent_as_text_in_any_digits_is_a_400(api, field, text):
    response = api.post("/v1/generate", {"prompt": "coin", field: text}, format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"]["code"] == "invalid_request" and body["error"]["message"].startswith(f"{field}: ")
    assert GenerationRequest.objects.count() == 0


@pytest.mark.parametrize("body", ['{"prompt": "coin", "size": ٦٤}', '{"prompt": "coin", "size": 6٤}',
                                  '{"prompt": "coin", "max_wait": 1.٥}'])
def test_a_json_number_in_other_digits_is_malformed_json(api, body):
    response = api.generic("POST", "/v1/generate", body.encode(), content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("JSON parse error")
    assert GenerationRequest.objects.count() == 0


@pytest.mark.parametrize("field", ["colors", "seed", "max_wait"])
def test_an_extra_number_on_the_openai_endpoint_in_other_digits_is_a_400(api, field):
    assert_openai_400(api.post(COMPAT, {"prompt": "coin", field: "٣"}, format="json"), field)


def test_an_ascii_size_still_draws(api):
    response = api.post(COMPAT, {"prompt": "coin", "size": "016x016"}, format="json")

    assert response.status_code == 200, response.content
    assert GenerationRequest.objects.get().size == 16


# --- charsets --------------------------------------------------------------------------------

UTF7_SCRIPT = b'{"prompt": "+ADw-script+AD4-alert(1)+ADw-/script+AD4-"}'


@pytest.mark.parametrize("charset", ["utf-7", "UTF-7", "utf-16", "latin-1", "iso-8859-1", "cp1252", "utf-8-sig",
                                     "no-such-charset", '"utf-7"'])
def test_json_in_any_charset_but_utf8_is_refused(api, charset):
    response = api.generic("POST", "/v1/generate", UTF7_SCRIPT, content_type=f"application/json; charset={charset}")

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"]["code"] == "invalid_request" and "UTF-8 only" in body["error"]["message"]
    assert GenerationRequest.objects.count() == 0


def test_the_openai_endpoint_refuses_utf7_in_its_own_shape(api):
    response = api.generic("POST", COMPAT, UTF7_SCRIPT, content_type="application/json; charset=utf-7")

    error = assert_openai_400(response, None)
    assert "UTF-8 only" in error["message"]
    assert not GenerationRequest.objects.filter(prompt__contains="<script>").exists()


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "application/json; charset=UTF8", 'application/json; charset="utf-8"'])
def test_utf8_with_or_without_a_charset_is_read_as_utf8(api, content_type):
    body = json.dumps({"prompt": "ïce fox +ADw-", "size": 16}, ensure_ascii=False).encode()

    response = api.generic("POST", "/v1/generate", body, content_type=content_type)

    assert response.status_code == 200, response.content
    assert GenerationRequest.objects.get().prompt == "ïce fox +ADw-"  # stored as sent, never decoded as UTF-7


# --- an upstream's words ---------------------------------------------------------------------

class HostileUpstream:
    """An OpenAI-compatible server whose every answer is one error, with the message given."""

    def __init__(self, status: int, code: str, message: str):
        body = json.dumps({"error": {"message": message, "type": "invalid_request_error", "param": None,
                                     "code": code}}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the stdlib's name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hostile_upstream(settings, configure, timeline):
    def start(status: int, code: str, message: str) -> HostileUpstream:
        server = HostileUpstream(status, code, message)
        servers.append(server)
        settings.OPENAI_BASE_URL = server.base_url
        configure(model="openai/gpt-image-2", fallback_models="offline/pixel-sprite", max_retries=0)
        return server

    servers: list[HostileUpstream] = []
    yield start
    for server in servers:
        server.close()


@pytest.fixture
def text_log():
    """The `generation` logger's lines as an operator reads them on stderr (LOG_FORMAT=text)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(EventFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("generation")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_an_upstream_message_with_newlines_stays_on_its_own_log_line(api, hostile_upstream, text_log):
    hostile_upstream(400, "invalid_value", f"Invalid prompt\n{FORGED}\r\n{FORGED}\u2028{SCRIPT}")

    response = api.post("/v1/generate", {"prompt": "coin", "size": 16}, format="json")

    assert response.status_code == 502
    lines = text_log.getvalue().splitlines()
    rejected = [line for line in lines if " upstream_rejected_request " in line]
    assert len(rejected) == 1
    assert not [line for line in lines if line.startswith(FORGED[:10]) and "forged" in line.split(" detail=")[0]]
    assert f'Invalid prompt\\n{FORGED}\\r\\n{FORGED}\\u2028{SCRIPT}" ' in rejected[0]  # quoted, escaped
    # every line is a record of ours: it starts with the time, not with text an upstream chose
    assert all(line.startswith("20") and " generation " in line for line in lines), lines


def test_a_content_policy_refusal_answers_our_words_and_keeps_the_providers_on_the_attempt(
        api, admin_client, hostile_upstream):
    said = f"litellm.BadRequestError: OpenAIException - Your prompt {SCRIPT} was refused\nby our safety system."
    hostile_upstream(400, "content_policy_violation", said)

    response = api.post("/v1/generate", {"prompt": "coin", "size": 16}, format="json")

    assert response.status_code == 422
    error = response.json()["error"]
    assert error == {"code": "content_policy_violation", "message": message_of("content_policy_violation")}
    row = GenerationRequest.objects.get()
    assert row.error_message == message_of("content_policy_violation")
    attempt = GenerationAttempt.objects.get()
    assert SCRIPT in attempt.message  # the operator can still read what the provider said ...
    page = admin_client.get(reverse("admin:generation_generationrequest_change", args=[row.pk])).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and SCRIPT not in page  # ... as text


def test_the_openai_endpoint_answers_the_same_words_for_a_refusal(api, hostile_upstream):
    hostile_upstream(400, "content_policy_violation", f"refused: {SCRIPT}")

    response = api.post(COMPAT, {"prompt": "coin", "size": "16x16"}, format="json")

    assert response.status_code == 422
    assert response.json()["error"]["message"] == message_of("content_policy_violation")


# --- NUL in an address -----------------------------------------------------------------------

def changelist_probes() -> list[str]:
    """Every registered admin list, with NUL in each of its filters, its search, its date drill-down,
    its ordering and page, and as an object id."""
    urls = []
    for model, model_admin in admin.site._registry.items():
        base = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        params = ["q=%00", "o=%00", "p=%00", "%00=1"]
        for entry in model_admin.list_filter:
            field = entry if isinstance(entry, str) else entry[0] if isinstance(entry, tuple) else None
            field = field or getattr(entry, "parameter_name", None)
            if field:
                params += [f"{field}=%00", f"{field}__exact=%00", f"{field}__isnull=%00"]
        if model_admin.date_hierarchy:
            params += [f"{model_admin.date_hierarchy}__year=%00"]
        urls += [f"{base}?{param}" for param in params]
        urls += [f"{base}%00/change/", f"{base}%00/history/", f"{base}%00/delete/"]
    return urls


def test_the_requests_list_filtered_by_a_nul_model_answers_400(admin_client):
    response = admin_client.get("/admin/generation/generationrequest/?model_used=%00")

    assert response.status_code == 400
    assert response.content.decode() == "A NUL character is not allowed in the address or the form."


def test_no_admin_list_filter_search_or_id_with_a_nul_is_a_500(admin_client):
    answers = {url: admin_client.get(url).status_code for url in changelist_probes()}

    assert len(answers) > 60  # every registered list, third parties' (django-axes) included
    assert {url: status for url, status in answers.items() if status != 400} == {}


def action_lists() -> list[str]:
    return [reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            for model in admin.site._registry]


@pytest.mark.parametrize("selected", ["\x00", "abc", "1\x00", "00000000-0000-0000-0000-00000000000g"])
def test_an_admin_action_on_ids_that_are_no_ids_is_a_400_on_every_list(admin_client, selected):
    answers = {url: admin_client.post(url, {"action": "delete_selected", "_selected_action": selected, "index": "0"})
               for url in action_lists()}

    assert len(answers) >= 8
    broken = {url: response.status_code for url, response in answers.items() if response.status_code >= 500}
    assert broken == {}
    assert all(response.status_code in (200, 302, 400) for response in answers.values())


def test_an_admin_action_on_an_integer_list_with_a_word_for_an_id_says_why(admin_client):
    response = admin_client.post(reverse("admin:auth_user_changelist"),
                                 {"action": "delete_selected", "_selected_action": "abc"})

    assert response.status_code == 400
    assert response.content.decode() == "The selected rows are not ids of this list."


def test_a_login_with_a_nul_in_the_username_is_a_400(client):
    response = client.post(reverse("admin:login"), {"username": "ad\x00min", "password": "x"})

    assert response.status_code == 400


@pytest.mark.parametrize("path", ["/v1/schema/?format=%00", "/v1/generations/%00", "/v1/models/%00",
                                  "/v1/styles?style=%00"])
def test_a_nul_in_an_api_address_is_a_400_in_the_api_shape(api, path):
    response = api.get(path)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_a_format_no_renderer_serves_is_a_404_not_a_500(api):
    response = api.get("/v1/schema/?format=xml")

    assert response.status_code == 404
    assert b"code: not_found" in response.content  # the schema view's own renderer, YAML


def test_a_token_with_a_nul_is_a_401_not_a_500(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer abc\x00.def")

    response = client.post("/v1/generate", {"prompt": "coin"}, format="json")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(("text", "error"), [("٣", "is not a plain whole number"), ("３", "is not a plain whole number"),
                                             ("1e1", "Enter a whole number."), ("²", "Enter a whole number.")])
def test_the_settings_form_takes_the_environments_plain_numbers_only(admin_client, text, error):
    from generation.models import GenerationSettings

    response = admin_client.post(reverse("admin:generation_generationsettings_change", args=[1]), {
        "enabled": "unknown", "model": "", "fallback_models": "", "max_retries": text, "retry_delay": "",
        "max_wait": "", "timeout": "", "total_timeout": "", "_save": "Save"})

    assert response.status_code == 200  # the form again, with its error
    assert error in response.content.decode()
    assert GenerationSettings.load().max_retries is None


@pytest.mark.parametrize("text", ["٥", "５"])
def test_a_models_rate_limit_takes_ascii_digits_only(text):
    from generation.admin.limits import ModelRateLimitForm

    form = ModelRateLimitForm(data={"model": "openai/gpt-image-2", "requests_per_minute": text})

    assert form.errors == {"requests_per_minute": [f"“{text}” is not a plain whole number."]}


def test_a_traceback_follows_its_record_indented_so_it_cannot_start_a_line():
    try:
        raise ValueError(f"upstream said\n{FORGED}")
    except ValueError:
        record = logging.makeLogRecord({"msg": "Internal Server Error: %s", "args": (f"/v1/x\n{FORGED}",),
                                        "levelname": "ERROR", "name": "django.request", "exc_info": sys.exc_info()})

    first, *rest = EventFormatter().format(record).splitlines()

    assert first.endswith(f"Internal Server Error: /v1/x\\n{FORGED}")
    assert rest and all(line.startswith("  | ") for line in rest)
    assert rest[-1] == f"  | {FORGED}"
