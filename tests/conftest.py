import os
import uuid
from pathlib import Path

import pytest
from redis.exceptions import RedisError
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from generation.engine.generator import generator
from generation.quota import pacing
from generation.quota.pacer import Pacer
from generation.models import ApiToken, GenerationSettings
from generation.redis_link import RedisLink
from tests import processes
from tests.upstream import FakeOpenAI

# What a test starts real processes with; a module holding one of these is a process test.
LAUNCHERS = (processes.Gunicorn, processes.JobWorker, processes.Process, processes.gunicorn, processes.manage,
             processes.stop)


def pytest_collection_modifyitems(config, items):
    """Markers that follow from what a test uses, so that a new test cannot forget them:
    `browser` for a test that takes the `browser` fixture, `process` for every test in a module
    that imports a launcher from tests/processes.py. `make test-fast` leaves both out."""
    for item in items:
        if "browser" in item.fixturenames:
            item.add_marker(pytest.mark.browser)
        module = getattr(item, "module", None)
        if module is not None and any(value is launcher for value in vars(module).values() for launcher in LAUNCHERS):
            item.add_marker(pytest.mark.process)


@pytest.fixture(autouse=True)
def redis_believed_up():
    """A test that took Redis down must not leave the next one falling back in process."""
    RedisLink.forget_outages()
    yield
    RedisLink.forget_outages()


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("plugin-user")


@pytest.fixture
def token_key(user) -> str:
    _, key = ApiToken.objects.create_key(user=user, name="test")
    return key


@pytest.fixture
def api(token_key) -> APIClient:
    """A client that sends `Authorization: Bearer <token>` like the plugin does."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_key}")
    return client


@pytest.fixture
def staff_api(db) -> APIClient:
    staff = get_user_model().objects.create_user("ops", is_staff=True)
    _, key = ApiToken.objects.create_key(user=staff, name="ops")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


class Timeline:
    """A fake clock that moves only when the generator sleeps."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def pacer(monkeypatch):
    """A fresh shared pacer for each test, in Redis (its own key prefix) when REDIS_URL is set."""
    prefix = f"test-{uuid.uuid4().hex}:"
    fresh = Pacer(django_settings.REDIS_URL, prefix=prefix)
    monkeypatch.setattr(pacing, "shared_pacer", lambda: fresh)  # for the admin's view of it
    monkeypatch.setattr(generator, "pacer", fresh)  # the generator's own collaborator
    yield fresh
    if fresh.remote is not None:
        try:
            for key in fresh.remote.client.scan_iter(f"{prefix}*"):
                fresh.remote.client.delete(key)
        except RedisError:
            pass  # a test that stopped Redis


@pytest.fixture
def timeline(monkeypatch, pacer) -> Timeline:
    """The generator's clock and sleep, and the pacer's clocks (this host's and the store's), on one
    fake timeline that moves only when the generator sleeps."""
    line = Timeline()
    monkeypatch.setattr(generator, "sleep", line.sleep)
    monkeypatch.setattr(generator, "clock", line.clock)
    pacer.timer = pacer.store_time = line.clock
    return line


@pytest.fixture
def upstream(settings, timeline):
    """A real OpenAI-compatible server on 127.0.0.1, on the fake timeline, that LiteLLM calls
    through OPENAI_BASE_URL: a 60 s Retry-After is waited out in no time."""
    with FakeOpenAI(clock=timeline.clock) as server:
        settings.OPENAI_BASE_URL = server.base_url
        yield server


@pytest.fixture
def configure(db):
    """Set admin overrides on the settings row, as an admin would: configure(max_retries=2, ...)."""

    def apply(**fields) -> GenerationSettings:
        row = GenerationSettings.load()
        for name, value in fields.items():
            setattr(row, name, value)
        row.save()
        return row

    return apply


# `make test` provides this Chromium (tests/provision.sh): Debian's package, or Playwright's own.
CHROMIUM = Path(os.environ.get("CHROMIUM") or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium under Playwright. Missing, it fails the test: a browser test never skips."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls made here are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        if CHROMIUM.exists():
            executable = str(CHROMIUM)
        elif Path(playwright.chromium.executable_path).exists():
            executable = None  # Playwright's own build, where its download worked
        else:
            pytest.fail(f"The browser tests need Chromium at {CHROMIUM}, which is missing. `make test` installs it; "
                        "or run: sudo apt-get install -y chromium", pytrace=False)
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# The quota's two stores, for tests that run one case on both: real Redis (REDIS_URL) and the
# in-process store that runs the same scripts.
QUOTA_REDIS_URL = os.environ.get("REDIS_URL", "")


@pytest.fixture(params=["redis", "memory"])
def store(request):
    """A fresh quota store, under its own key prefix: Redis's, or the in-process one."""
    import redis

    from generation.quota.store import ScriptStore, memory_store

    prefix = f"test-store-{uuid.uuid4().hex}:"
    if request.param == "memory":
        yield memory_store(prefix=prefix)
        return
    if not QUOTA_REDIS_URL:
        pytest.skip("REDIS_URL is not set")
    shared = ScriptStore(redis.Redis.from_url(QUOTA_REDIS_URL), prefix=prefix)
    yield shared
    shared.forget()


@pytest.fixture(params=["redis", "memory"])
def pacers(request):
    """Two pacer clients of one schedule on one fake timeline: two processes on one Redis, or two
    threads of one process."""
    import redis

    line = Timeline()
    if request.param == "redis":
        if not QUOTA_REDIS_URL:
            pytest.skip("REDIS_URL is not set")
        prefix = f"test-pacer-{uuid.uuid4().hex}:"
        clients = [Pacer(QUOTA_REDIS_URL, prefix=prefix) for _ in range(2)]
    else:
        prefix, clients = None, [Pacer()] * 2
    for client in clients:
        client.timer = client.store_time = line.clock
    yield clients, line
    if prefix:
        connection = redis.Redis.from_url(QUOTA_REDIS_URL)
        for key in connection.scan_iter(f"{prefix}*"):
            connection.delete(key)
