"""API tokens in the admin: created with the raw key shown once, revoked for good."""
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from rest_framework.test import APIClient

from generation.models import ApiToken

pytestmark = pytest.mark.django_db
TOKENS = "/admin/generation/apitoken/"


@pytest.fixture
def admin_client(client):
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))
    return client


def bearer(key: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api


def test_it_shows_a_new_tokens_raw_key_once_and_the_key_works(admin_client, user):
    response = admin_client.post(f"{TOKENS}add/", {"name": "editor plugin", "user": user.pk, "weight": 1}, follow=True)

    shown = " ".join(str(m) for m in get_messages(response.wsgi_request))
    key = re.search(r"[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}", shown).group(0)
    assert bearer(key).post("/v1/generate", {"prompt": "coin", "size": 8}, format="json").status_code == 200
    token = ApiToken.objects.get()
    assert key not in admin_client.get(f"{TOKENS}{token.pk}/change/").content.decode()


def test_it_revokes_tokens_with_the_list_action(admin_client, token_key):
    token = ApiToken.objects.get()

    admin_client.post(TOKENS, {"action": "revoke", "_selected_action": [token.pk]})

    assert ApiToken.objects.get().revoked is True
    assert bearer(token_key).get("/v1/styles").status_code == 200  # public
    assert bearer(token_key).post("/v1/generate", {"prompt": "x"}, format="json").status_code == 401


def test_it_lists_tokens_with_their_user_and_last_use(admin_client, api):
    api.get("/v1/generations/00000000-0000-0000-0000-000000000000")

    page = admin_client.get(TOKENS).content.decode()

    assert "plugin-user" in page
    assert ApiToken.objects.get().last_used_at is not None


def test_a_tokens_weight_is_set_in_the_admin_and_weight_0_refuses_its_requests(admin_client, user):
    page = admin_client.get(f"{TOKENS}add/").content.decode()
    assert 'name="weight" value="1"' in page  # the default, shown on the form
    admin_client.post(f"{TOKENS}add/", {"name": "paused plugin", "user": user.pk, "weight": 3}, follow=True)
    token = ApiToken.objects.get(name="paused plugin")
    assert token.weight == 3
    bad = admin_client.post(f"{TOKENS}{token.pk}/change/", {"name": "paused plugin", "user": user.pk, "weight": 101})
    assert bad.status_code == 200 and "less than or equal to 100" in bad.content.decode()

    token, key = ApiToken.objects.create_key(name="zero", user=user, weight=0)
    response = bearer(key).post("/v1/generate", {"prompt": "slime"}, format="json")

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "forbidden" and "weight is 0" in error["message"]
