"""Admin login lockout (django-axes): failures logged, a lockout after a handful, lifted by an admin or by time."""
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from generation.logfmt import event_fields

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login") + "?next=/admin/"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff() -> User:
    return User.objects.create_user("alice", password=PASSWORD, is_staff=True)


def log_in(password: str, username: str = "alice", address: str = "203.0.113.7", **headers) -> int:
    """A fresh browser trying the login form; the status it gets (302 means logged in)."""
    return Client(REMOTE_ADDR=address, **headers).post(LOGIN, {"username": username, "password": password}).status_code


def events(caplog, name: str) -> list[dict]:
    return [event_fields(r) for r in caplog.records if getattr(r, "event", None) == name]


def test_it_logs_each_failure_with_the_username_and_address(staff, caplog, settings):
    assert log_in("wrong") == 200  # the form again

    [failure] = events(caplog, "admin_login_failed")
    assert (failure["username"], failure["ip_address"]) == ("'alice'", "203.0.113.7")
    assert (failure["failures"], failure["limit"]) == (1, settings.AXES_FAILURE_LIMIT)
    assert "wrong" not in caplog.text  # the password tried is never logged


def test_it_locks_out_after_five_failures_even_the_right_password(staff, caplog, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    statuses = [log_in(f"guess {i}") for i in range(5)]

    assert statuses == [200, 200, 200, 200, 429]
    assert log_in(PASSWORD) == 429
    assert len(events(caplog, "admin_login_failed")) == 6
    assert events(caplog, "admin_locked_out")[0]["username"] == "'alice'"


def test_it_counts_failures_per_username_from_any_address(staff):
    for i in range(5):
        log_in("wrong", address=f"198.51.100.{i}")

    assert log_in(PASSWORD, address="192.0.2.1") == 429


def test_it_counts_failures_per_address_across_usernames(staff):
    for name in ("root", "admin", "bob", "carol", "dave"):
        log_in("wrong", username=name)

    assert log_in(PASSWORD) == 429
    assert log_in(PASSWORD, address="192.0.2.1") == 302  # another address, a username not tried


def test_a_success_before_the_limit_starts_the_count_again(staff):
    for _ in range(4):
        log_in("wrong")
    assert log_in(PASSWORD) == 302
    for _ in range(4):
        assert log_in("wrong") == 200


def test_an_admin_lifts_a_lockout(staff, admin_client):
    for _ in range(5):
        log_in("wrong")
    assert log_in(PASSWORD) == 429

    attempts = AccessAttempt.objects.values_list("pk", flat=True)
    response = admin_client.post(reverse("admin:axes_accessattempt_changelist"),
                                 {"action": "delete_selected", "_selected_action": list(attempts), "post": "yes"})

    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert log_in(PASSWORD) == 302


def test_a_lockout_ends_after_the_cool_off(staff, settings):
    for _ in range(5):
        log_in("wrong")
    assert log_in(PASSWORD) == 429

    # As if the cool-off had passed: the attempts are dated back rather than waited for.
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))

    assert log_in(PASSWORD) == 302


@pytest.mark.parametrize(("proxies", "forwarded", "address"), [
    (0, "192.0.2.9", "203.0.113.7"),  # no proxy: the header is the client's own words
    (1, "192.0.2.9", "192.0.2.9"),
    (1, "10.9.9.9, 192.0.2.9", "192.0.2.9"),  # the left entry was written by the client
    (2, "10.9.9.9, 192.0.2.9, 10.0.0.2", "192.0.2.9"),
    (2, "192.0.2.9", "203.0.113.7"),  # fewer hops than proxies: not trusted
    (1, "not-an-address", "203.0.113.7"),
])
def test_it_tells_clients_apart_behind_the_configured_proxies(staff, settings, caplog, proxies, forwarded, address):
    settings.ADMIN_PROXY_COUNT = proxies

    log_in("wrong", HTTP_X_FORWARDED_FOR=forwarded)

    assert events(caplog, "admin_login_failed")[0]["ip_address"] == address
    assert AccessAttempt.objects.get().ip_address == address
