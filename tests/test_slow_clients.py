"""Slow clients against a real gunicorn (gunicorn.conf.py, 1 worker x 4 threads) over real sockets.

A body that has not arrived REQUEST_BODY_TIMEOUT after its headers gets 408 whatever its pace,
a body is read only after authentication, at most half the threads wait on bodies, and a
client that drops its body mid-way gets a clean 400. The deadline is made 8 s through the
environment (10 s by default) so the suite does not wait the full 10 s.
"""
import http.client
import json
import select
import socket
import time

import pytest
from django.contrib.auth import get_user_model

from generation.models import ApiToken
from tests.processes import Gunicorn, needs_postgres, process_env

pytestmark = [needs_postgres, pytest.mark.django_db(transaction=True)]

THREADS = 4
BODY_TIMEOUT = 8


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        server = Gunicorn(process_env(REDIS_URL="", REQUEST_BODY_TIMEOUT=str(BODY_TIMEOUT)), workers=1, threads=THREADS)
        server.start()
    yield server
    server.stop()


@pytest.fixture
def token() -> str:
    user = get_user_model().objects.create_user(f"slow-{time.monotonic_ns()}")
    return ApiToken.objects.create_key(user=user, name="slow clients")[1]


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def start_post(server, *, path="/v1/generate", token=None, length=None, first=b'{"prompt": "sl') -> socket.socket:
    """A POST whose headers are all sent and whose body has only begun: chunked unless `length`."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", "X-Request-ID: slow-client"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    sock.sendall("\r\n".join(lines).encode() + b"\r\n\r\n" + (first if length is not None else chunk(first)))
    return sock


def answer(sock: socket.socket) -> tuple[int, dict, dict]:
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, dict(response.getheaders()), json.loads(response.read())


def answered(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


def wait_until(predicate, what: str, timeout: float = 30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {timeout} s")


def test_it_cuts_a_chunked_body_that_stalls_with_408(server, token):
    sock = start_post(server, token=token)

    status, headers, body = answer(sock)

    assert status == 408 and headers["X-Request-ID"] == "slow-client"
    assert body == {"error": {"code": "request_timeout",
                              "message": f"The request body did not arrive within {BODY_TIMEOUT} s of its headers."},
                    "request_id": "slow-client"}


def test_it_cuts_a_content_length_body_that_trickles_with_408(server, token):
    """One byte every 0.5 s: a socket timeout per read would never fire; the wall clock does."""
    sock = start_post(server, token=token, length=200, first=b"{")
    sent = 1
    while not answered(sock) and sent < 200:
        time.sleep(0.5)
        sock.sendall(b" ")
        sent += 1

    status, _, body = answer(sock)

    assert status == 408 and body["error"]["code"] == "request_timeout"
    assert sent < 200  # cut while the client was still sending
    assert server.log().count("request_body_timeout") >= 1


def test_the_openai_route_answers_408_in_openai_shape(server, token):
    sock = start_post(server, path="/v1/images/generations", token=token, length=50)

    status, _, body = answer(sock)

    assert status == 408
    assert body["error"]["type"] == "invalid_request_error" and body["error"]["code"] == "request_timeout"


def test_it_reads_no_body_before_authentication(server):
    """A slow body without a token is answered 401 at once: the server never waits for it."""
    sockets = [start_post(server, length=500) for _ in range(2)] + [start_post(server) for _ in range(2)]

    answers = [answer(sock) for sock in sockets]

    assert [status for status, _, _ in answers] == [401] * 4
    assert {body["error"]["code"] for _, _, body in answers} == {"unauthorized"}


def test_it_reads_no_body_for_a_route_that_takes_none(server, token):
    status, _, body = answer(start_post(server, path="/v1/styles", token=token, length=500))

    assert status == 405 and body["error"]["code"] == "method_not_allowed"


def test_an_unread_body_is_never_parsed_as_the_next_request(server):
    """A body answered without being read (401 here) ends its connection after the answer: its bytes
    are never taken for the client's next request on that connection."""
    sock = start_post(server, length=30, first=b'{"prompt": "slime", "size": 8}')
    status, _, _ = answer(sock)
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        sock.settimeout(10)
        rest = sock.recv(65536)
    except OSError:  # the server closed it first: the client opens a new connection
        rest = b""

    assert status == 401
    assert rest == b""  # the connection ended after the 401; never a 400 for the body's bytes


def test_healthz_answers_while_four_times_the_threads_of_slow_clients_are_connected(server, token):
    slow = [start_post(server, token=token, length=300 if i % 2 else None) for i in range(4 * THREADS)]
    # Half the threads may wait on bodies; every other slow body is turned away after IN_FLIGHT_GRACE.
    wait_until(lambda: sum(map(answered, slow)) == 4 * THREADS - THREADS // 2, "503 for the bodies past the limit")

    health = [server.request("GET", "/healthz", timeout=60) for _ in range(3)]
    still_waiting = [sock for sock in slow if not answered(sock)]
    answers = [answer(sock) for sock in slow]

    assert [(status, body["database"]) for status, _, body in health] == [(200, "ok")] * 3
    assert len(still_waiting) == THREADS // 2  # the healthz answers came while they held their threads
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [408] * (THREADS // 2) + [503] * (4 * THREADS - THREADS // 2)
    busy = [(headers, body) for status, headers, body in answers if status == 503]
    assert all(headers["Retry-After"] == "1" and body["error"]["code"] == "server_busy" for headers, body in busy)


def test_a_client_that_drops_its_chunked_body_gets_400_and_one_log_line(server, token):
    before = server.log()
    sock = start_post(server, token=token, first=b'{"prompt": "half a bo')
    sock.shutdown(socket.SHUT_WR)  # the client goes away mid-body; its side can still read

    status, _, body = answer(sock)

    assert status == 400
    assert body["error"] == {"code": "invalid_request", "message": "The request body ended before it was complete."}
    wait_until(lambda: "request_body_incomplete" in server.log()[len(before):], "log line")
    new = server.log()[len(before):]
    assert new.count("request_body_incomplete") == 1
    assert len(new.strip().splitlines()) == 1, new
    assert "Traceback" not in new and "Error handling request" not in new


def test_a_body_that_arrives_in_time_is_served(server, token):
    sock = start_post(server, token=token, first=b'{"prompt": "gh')
    time.sleep(0.5)
    sock.sendall(chunk(b'ost", "size": 16}') + b"0\r\n\r\n")

    status, _, body = answer(sock)

    assert status == 200 and body["status"] == "succeeded"
