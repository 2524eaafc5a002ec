"""Sign-in, throttling, CSRF, the language switch, the admin for superusers only, role routing."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory
from tests.portal.conftest import PASSWORD, with_password

pytestmark = pytest.mark.django_db

PAGES: list[tuple[str, list]] = [
    ("portal:cards", []),
    ("portal:orders", []),
    ("portal:messages", []),
    ("portal:structure", []),
    ("portal:structure-order", []),
    ("portal:queue", []),
    ("portal:overdue", []),
    ("portal:production", []),
    ("portal:imports", []),
    ("portal:shipping", []),
    ("portal:bo-holders", []),
    ("portal:bo-order", [1]),
    ("portal:card", [1]),
]


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_every_page_asks_for_sign_in(name, args):
    response = Client().get(reverse(name, args=args))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_login_page_is_in_french_by_default():
    html = Client().get(reverse("login")).content.decode()
    assert '<html lang="fr">' in html and "Se connecter" in html and "Mot de passe" in html


def test_english_is_available_through_the_switcher(people):
    client = Client()
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    html = client.get(reverse("login")).content.decode()
    assert '<html lang="en">' in html and "Sign in" in html


def test_signing_in_sends_each_role_home(people):
    cases = [(people.holder, "/cards/"), (people.manager, "/structure/"), (people.cnom, "/dashboard/")]
    for user, home in cases:
        client = Client()
        client.post(reverse("login"), {"username": with_password(user).username, "password": PASSWORD})
        assert client.get("/")["Location"] == home


def test_a_wrong_password_is_refused_in_french(people):
    response = Client().post(reverse("login"), {"username": people.holder.username, "password": "nope"})
    assert "Saisissez un nom d’utilisateur et un mot de passe valides" in response.content.decode()


def test_repeated_failures_lock_the_account(people, settings):
    with_password(people.holder)
    client = Client()
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": people.holder.username, "password": "nope"})
    response = client.post(reverse("login"), {"username": people.holder.username, "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_posts_without_a_csrf_token_are_refused(people):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people.holder)
    response = client.post(
        reverse("portal:card-declare", args=[people.card.pk]), {"reason": "lost", "confirm": "1"}
    )
    assert response.status_code == 403


def test_sign_out(people, as_user):
    client = as_user(people.holder)
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("portal:cards")).status_code == 302


def test_the_admin_is_for_superusers_only(people, superuser):
    staff = UserFactory(username="staffer", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/").status_code == 302  # back to the admin's sign-in
    client.force_login(people.cnom)
    assert client.get("/admin/").status_code == 302
    client.force_login(superuser)
    assert client.get("/admin/").status_code == 200


def test_a_user_without_a_role_is_told_so():
    client = Client()
    client.force_login(UserFactory(username="nobody"))
    assert "Pas encore d" in client.get("/").content.decode()


def test_the_session_expires(people, settings):
    client = Client()
    client.post(reverse("login"), {"username": with_password(people.holder).username, "password": PASSWORD})
    session = client.session
    assert session.get_expire_at_browser_close()
    assert session.get_expiry_age() == settings.SESSION_COOKIE_AGE <= 3600
