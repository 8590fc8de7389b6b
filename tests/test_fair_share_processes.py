"""The fair share across hosts: two real gunicorn servers sharing a redis-server and PostgreSQL.

Token A's 12 clients ask host 1 first; token B's 6 clients ask host 2 a second later. The
upstream (tests/upstream.py) allows 5 requests per 12 s, a fixed window on real time; each request
may wait 30 s, so three windows, 15 calls, can serve them. First come, first served would give A
the first 12 slots and B 3; fairly, once both wait, each window is shared.
"""
import threading
import time

import pytest
from django.contrib.auth import get_user_model

from generation.models import ApiToken
from tests.processes import Gunicorn, needs_postgres, process_env
from tests.test_pacer_field import LIMIT, SETTINGS, WINDOW, redis_server  # noqa: F401 (a fixture)
from tests.upstream import FakeOpenAI

pytestmark = [needs_postgres, pytest.mark.django_db(transaction=True)]


def clients(server: Gunicorn, key: str, count: int, results: list, name: str) -> list[threading.Thread]:
    def client():
        status, headers, _ = server.request("POST", "/v1/generate", body={"prompt": "slime", "size": 16},
                                            headers={"Authorization": f"Bearer {key}"}, timeout=120)
        results.append((name, status, headers))

    return [threading.Thread(target=client) for _ in range(count)]


def test_two_hosts_share_one_quota_fairly_between_two_tokens(redis_server):  # noqa: F811
    user = get_user_model().objects.create_user("fair-plugin")
    key_a = ApiToken.objects.create_key(user=user, name="A")[1]
    key_b = ApiToken.objects.create_key(user=user, name="B")[1]
    results = []
    with FakeOpenAI(limit=LIMIT, window=WINDOW) as upstream:
        env = process_env(REDIS_URL=redis_server.url, OPENAI_BASE_URL=upstream.base_url, **SETTINGS)
        servers = [Gunicorn(env, workers=1, threads=16).start(), Gunicorn(env, workers=2, threads=8).start()]
        try:
            first = clients(servers[0], key_a, 12, results, "A")
            second = clients(servers[1], key_b, 6, results, "B")
            for thread in first:
                thread.start()
            time.sleep(1.0)  # A's requests are all waiting by now
            for thread in second:
                thread.start()
            for thread in first + second:
                thread.join(120)
        finally:
            for server in servers:
                server.stop()

    served = [name for name, status, _ in results if status == 200]
    assert {status for _, status, _ in results} <= {200, 429}
    assert all(h.get("Retry-After", "").isdigit() for _, status, h in results if status == 429)
    # Three windows (two on a loaded box, when the third opens just past the budgets).
    assert len(served) > 2 * LIMIT, served
    # The first window is A's (B was not waiting yet); of the rest, about half is B's. First come,
    # first served gave B 3 of 15 here (20% of the rest).
    assert served.count("B") >= 0.4 * (len(served) - LIMIT), served
    assert sum(1 for call in upstream.calls if call.status == 429) == 0
    assert len(upstream.calls) == len(served)  # no call wasted
