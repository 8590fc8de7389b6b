"""What a new user meets at the addresses they try first: the root gunicorn prints, the docs
without their slash, the browser's favicon, and the admin under the service's own name."""
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_root_points_at_the_docs_and_the_admin():
    response = Client().get("/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert 'href="/v1/docs/"' in html and 'href="/admin/"' in html


@pytest.mark.parametrize("typed, lands_on", [("/v1/docs", "/v1/docs/"), ("/v1/schema", "/v1/schema/"),
                                             ("/v1/schema?format=json", "/v1/schema/?format=json")])
def test_the_docs_and_schema_answer_without_their_trailing_slash(typed, lands_on):
    response = Client().get(typed, follow=True)

    assert response.redirect_chain == [(lands_on, 302)]
    assert response.status_code == 200


def test_the_favicon_is_a_small_icon():
    response = Client().get("/favicon.ico")

    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body[:4] == b"\x00\x00\x01\x00" and len(body) < 4096  # an ICO file's header


def test_the_admin_is_branded_with_the_service_name():
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(admin)

    html = client.get("/admin/").content.decode()

    assert "<title>" in html and "Sprite backend" in html
    assert "Django administration" not in html and "Django site admin" not in html
