import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from generation.models import ApiToken, GenerationSettings
from generation.services import generator
from tests.upstream import FakeOpenAI


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


@pytest.fixture
def upstream(settings):
    """A real OpenAI-compatible server on 127.0.0.1 that LiteLLM calls through OPENAI_BASE_URL."""
    with FakeOpenAI() as server:
        settings.OPENAI_BASE_URL = server.base_url
        yield server


class RecordedSleeps(list):
    @property
    def total(self) -> float:
        return sum(self)


@pytest.fixture
def sleeps(monkeypatch) -> RecordedSleeps:
    """Replace the generator's sleep: record the delays instead of waiting them out."""
    recorded = RecordedSleeps()
    monkeypatch.setattr(generator, "sleep", recorded.append)
    return recorded


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
