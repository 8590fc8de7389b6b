"""deploy/nginx.conf, run by Debian's nginx in front of a real gunicorn (tests/provision.sh installs it).

The file is used as shipped except where a test machine differs from compose: the address it
listens on, the backend's address, the directories for temporary files, and the body timeout
(2 s instead of 10 s, so the suite does not wait; the shipped value is checked against the app's).
"""
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from generation.models import ApiToken
from tests.processes import ROOT, Gunicorn, needs_postgres, process_env

pytestmark = [needs_postgres, pytest.mark.django_db(transaction=True)]

CONF = ROOT / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def directive(name: str) -> str:
    return re.search(rf"^\s*{name}\s+([^;]+);", CONF.read_text(), re.M).group(1)


def test_the_shipped_limits_match_the_app():
    assert directive("client_body_timeout") == directive("client_header_timeout") == \
        f"{settings.REQUEST_BODY_TIMEOUT:g}s"
    assert int(directive("client_max_body_size").rstrip("k")) * 1024 == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert directive("client_body_buffer_size") == directive("client_max_body_size")  # bodies stay in memory


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def backend(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        server = Gunicorn(process_env(REDIS_URL=""), workers=1, threads=4)
        server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxy(backend, tmp_path_factory):
    assert os.access(NGINX, os.X_OK), "no nginx: `make test` installs Debian's (tests/provision.sh)"
    home = tmp_path_factory.mktemp("nginx")
    home.chmod(0o777)  # nginx's workers drop root and write their temporary files here
    port = free_port()
    temp = "".join(f"\n    {kind}_temp_path {home / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = (CONF.read_text().replace("listen 80;", f"listen 127.0.0.1:{port};")
            .replace("http://backend:8000", f"http://127.0.0.1:{backend.port}")
            .replace("client_body_timeout 10s;", "client_body_timeout 2s;")
            .replace("http {", "http {" + temp, 1))
    (home / "nginx.conf").write_text(conf)
    log = (home / "nginx.log").open("w")
    proc = subprocess.Popen([NGINX, "-e", "stderr", "-p", str(home), "-c", str(home / "nginx.conf"),
                             "-g", f"daemon off; pid {home / 'nginx.pid'};"], stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            assert proc.poll() is None, (home / "nginx.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port, home / "nginx.log"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture
def token() -> str:
    user = get_user_model().objects.create_user(f"proxy-{time.monotonic_ns()}")
    return ApiToken.objects.create_key(user=user, name="proxy")[1]


def logged(log: Path, pattern: str) -> bool:
    """nginx writes its access line once the exchange is over: look for it for a while."""
    for _ in range(100):
        if re.search(pattern, log.read_text(), re.M):
            return True
        time.sleep(0.05)
    return False


def request(port: int, method: str, path: str, *, body: bytes | None = None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers={"Host": "127.0.0.1", **(headers or {})})
        response = conn.getresponse()
        raw = response.read()
        return response.status, dict(response.getheaders()), raw
    finally:
        conn.close()


def test_a_request_passes_with_its_x_request_id(proxy, token):
    port, _ = proxy

    status, headers, raw = request(port, "POST", "/v1/generate", body=b'{"prompt": "ghost", "size": 16}',
                                   headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                            "X-Request-ID": "plugin-42"})

    assert status == 200 and json.loads(raw)["status"] == "succeeded"
    assert headers["X-Request-ID"] == "plugin-42"


def test_without_an_x_request_id_nginx_and_the_app_log_the_same_one(proxy):
    port, log = proxy

    status, headers, _ = request(port, "GET", "/v1/styles")

    assert status == 200 and re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"])
    assert logged(log, re.escape(headers["X-Request-ID"]))


@pytest.mark.parametrize("path", ["/metrics", "//metrics", "/metrics?format=text", "/%6Detrics", "/./metrics",
                                  "/metrics/", "/METRICS"])
def test_metrics_are_not_served_outside(proxy, path):
    port, _ = proxy

    status, headers, raw = request(port, "GET", path)

    assert status == 404 and b"sprite_requests_total" not in raw
    if path != "/METRICS" and not path.endswith("/"):  # the others are the backend's own 404s
        assert json.loads(raw)["error"]["code"] == "not_found" and headers["X-Request-ID"]


def test_a_slow_body_is_cut_by_the_proxy_and_never_reaches_gunicorn(proxy, backend, token):
    port, log = proxy
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall(f"POST /v1/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                 "Content-Type: application/json\r\nContent-Length: 100\r\nX-Request-ID: slow-one\r\n\r\n"
                 '{"prompt": '.encode())

    # nginx closes a connection whose client went silent, with no answer (its log says 408).
    assert sock.recv(1024) == b""
    assert logged(log, r'"POST /v1/generate HTTP/1.1" 408 .* slow-one$')
    assert "request_body" not in backend.log()  # gunicorn never waited on it


def test_a_body_over_64_kb_is_refused_in_the_api_shape(proxy, token):
    port, _ = proxy

    status, _, raw = request(port, "POST", "/v1/generate", body=b"x" * (64 * 1024 + 1),
                             headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})

    assert status == 413 and json.loads(raw)["error"]["code"] == "payload_too_large"
