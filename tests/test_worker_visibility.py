"""What an operator sees of the async workers: `/healthz`'s `workers` from their heartbeats, and the
admin's warning when async requests are queued and no worker listens."""
import os

import pytest
from django.test import Client

from generation.engine import heartbeats

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (.ci/run sets it)")]
WARNING = "waiting in the queue and no worker listens"


@pytest.fixture
def no_heartbeats(settings):
    settings.REDIS_URL = os.environ["REDIS_URL"]
    client = heartbeats.link.client()
    client.delete(*client.keys(heartbeats.KEY_PREFIX + "*") or ["-"])
    yield client
    client.delete(*client.keys(heartbeats.KEY_PREFIX + "*") or ["-"])


def test_healthz_counts_the_workers_whose_heartbeat_is_live(no_heartbeats):
    assert Client().get("/healthz").json()["workers"] == 0
    heartbeats.beat("async:host-a:1", threads=100, started=0)
    heartbeats.beat("async:host-b:1", threads=100, started=0)

    assert Client().get("/healthz").json()["workers"] == 2
    assert 0 < no_heartbeats.ttl(heartbeats.KEY_PREFIX + "async:host-a:1") <= heartbeats.TTL  # gone if not renewed

    heartbeats.forget("async:host-a:1")  # a worker that stops cleanly
    assert Client().get("/healthz").json()["workers"] == 1


def test_the_admin_warns_when_async_requests_wait_and_no_worker_listens(admin_client, api, no_heartbeats):
    from generation.engine import jobs

    jobs.flush()
    for prompt in ("coin", "gem"):
        assert api.post("/v1/generate", {"prompt": prompt, "async": True}, format="json").status_code == 202

    page = admin_client.get("/admin/generation/generationrequest/").content.decode()
    assert f"2 async requests {WARNING}" in page

    heartbeats.beat("async:host-a:1", threads=100, started=0)
    assert WARNING not in admin_client.get("/admin/generation/generationrequest/").content.decode()
    jobs.flush()
