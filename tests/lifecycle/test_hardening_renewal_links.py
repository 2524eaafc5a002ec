"""Renewal links: the one-time token is exchanged by POST and never appears in a URL the server receives
(URLs end in access logs). The reminder's link is the portal's page with the token after "#", which a
browser never sends; the page's script posts it. The old forms with the token in the path answer 410.

Every request the server receives is recorded from its WSGI environ (``request_started``), as an access log
would: the token must be in none of their paths or query strings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client
from freezegun import freeze_time
from rest_framework.test import APIClient

from lifecycle.models import RenewalReminder
from notifications.models import Notification
from orders.models import Order
from registry.models import Account
from tests.factories import persona

from .test_renewal import before, expiring, run_on  # noqa: F401 (expiring: a fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def link(expiring) -> Iterator[str]:  # noqa: F811 (the fixture imported above)
    """The link of the 90-day reminder, as the e-mail carries it; the clock a few days later."""
    run_on(before(90))
    with freeze_time(before(85)):
        yield Notification.objects.get(event="renewal_due", channel="email").context["renewal_url"]


def token_of(link: str) -> str:
    page, _hash, token = link.partition("#")
    assert token and token not in page
    return token


def assert_never_in_a_url(token: str, received: list[str]) -> None:
    assert received, "no request was made"
    assert not [line for line in received if token in line], received


# --- the portal page ------------------------------------------------------------------------------------


def test_the_reminders_link_puts_the_token_after_the_hash(link, settings):
    page, _hash, token = link.partition("#")
    assert page == f"{settings.CPX_BASE_URL}/renew/"
    assert RenewalReminder.objects.get().link_used_at is None and len(token) > 20


def test_the_portal_renews_without_the_token_in_any_url(link, received, expiring):  # noqa: F811
    token = token_of(link)
    holder = persona(Account.Role.HOLDER, professional=expiring.professional)
    browser = Client()
    browser.force_login(holder)
    # 1. The browser opens the link: it sends the path, never the fragment.
    opened = browser.get(link.partition("#")[0].removeprefix("http://testserver"))
    assert opened.status_code == 200 and "no-store" in opened["Cache-Control"]
    html = opened.content.decode()
    assert "data-renewal-form" in html and "portal/renew.js" in html
    # 2. The page's script posts the token: the card is shown, with the button; the token is not in the page.
    shown = browser.post("/renew/", {"token": token, "step": "show"})
    assert shown.status_code == 200 and expiring.display_number in shown.content.decode()
    assert token not in shown.content.decode() and "no-store" in shown["Cache-Control"]
    assert not Order.objects.filter(kind="renewal").exists()  # showing orders nothing
    # 3. The holder confirms: the renewal is ordered, once.
    confirmed = browser.post("/renew/", {"token": token, "step": "confirm"})
    order = Order.objects.get(kind="renewal", replaces=expiring)
    assert confirmed.status_code == 302 and confirmed["Location"] == f"/orders/{order.pk}/"
    again = browser.post("/renew/", {"token": token, "step": "confirm"})
    assert again.status_code == 303 and Order.objects.filter(kind="renewal").count() == 1
    assert_never_in_a_url(token, received)


def test_the_page_opens_for_a_holder_not_signed_in_yet(link, received):
    opened = Client().get("/renew/")
    assert opened.status_code == 200
    assert "/accounts/login/?next=%2Frenew%2F" in opened.content.decode()  # the script shows it
    refused = Client().post("/renew/", {"token": token_of(link), "step": "confirm"})
    assert refused.status_code == 302 and refused["Location"].startswith("/accounts/login/")
    assert not Order.objects.filter(kind="renewal").exists()
    assert_never_in_a_url(token_of(link), received)


def test_an_expired_or_forged_token_is_refused_by_the_page(link, settings, expiring):  # noqa: F811
    browser = Client()
    browser.force_login(persona(Account.Role.HOLDER, professional=expiring.professional))
    assert browser.post("/renew/", {"token": "forged", "step": "show"}).status_code == 410
    settings.CPX_RENEWAL_LINK_MAX_AGE_DAYS = 3  # signed 5 days ago
    assert browser.post("/renew/", {"token": token_of(link), "step": "confirm"}).status_code == 410
    assert not Order.objects.filter(kind="renewal").exists()


def test_the_old_page_with_the_token_in_its_path_is_gone(link, expiring):  # noqa: F811
    browser = Client()
    browser.force_login(persona(Account.Role.HOLDER, professional=expiring.professional))
    response = browser.get(f"/renew/{token_of(link)}/")
    assert response.status_code == 410 and "no-store" in response["Cache-Control"]
    assert browser.post(f"/renew/{token_of(link)}/").status_code == 410
    assert not Order.objects.filter(kind="renewal").exists()


# --- the API ---------------------------------------------------------------------------------------------


def test_the_api_exchanges_the_token_by_post_once(link, received):
    token = token_of(link)
    api = APIClient()
    shown = api.post("/api/v1/renewal-links/preview/", {"token": token}, format="json")
    assert shown.status_code == 200 and shown.json()["used"] is False
    first = api.post("/api/v1/renewal-links/confirm/", {"token": token}, format="json")
    assert first.status_code == 201 and first.json()["kind"] == "renewal"
    second = api.post("/api/v1/renewal-links/confirm/", {"token": token}, format="json")
    assert second.status_code == 409 and second.json()["code"] == "renewal_link_used"
    assert Order.objects.filter(kind="renewal").count() == 1
    assert_never_in_a_url(token, received)


def test_the_api_refuses_an_expired_token(link, settings):
    settings.CPX_RENEWAL_LINK_MAX_AGE_DAYS = 3  # signed 5 days ago
    response = APIClient().post("/api/v1/renewal-links/confirm/", {"token": token_of(link)}, format="json")
    assert response.status_code == 410 and response.json()["code"] == "renewal_link_expired"
    assert not Order.objects.filter(kind="renewal").exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_old_api_form_with_the_token_in_the_path_is_gone(link, method):
    response = getattr(APIClient(), method)(f"/api/v1/renewal-links/{token_of(link)}/")
    assert response.status_code == 410 and response.json()["code"] == "renewal_link_moved"
    assert RenewalReminder.objects.get().link_used_at is None and not Order.objects.exists()


def test_the_exchange_endpoints_take_no_get(link, received):
    for path in ("/api/v1/renewal-links/preview/", "/api/v1/renewal-links/confirm/"):
        response = APIClient().get(path, {"token": token_of(link)})
        assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
    assert not Order.objects.exists()


def test_the_schema_has_no_token_in_a_path(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    paths, components = schema["paths"], schema["components"]["schemas"]
    assert not [path for path in paths if "{token}" in path]
    for name in ("preview", "confirm"):
        post = paths[f"/api/v1/renewal-links/{name}/"]["post"]
        body = post["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert components[body]["required"] == ["token"]
        assert "renewal_link_moved" in post["description"] and {"404", "410"} <= set(post["responses"])
        assert "get" not in paths[f"/api/v1/renewal-links/{name}/"]


def test_another_holder_cannot_use_the_link(link):
    browser = Client()
    browser.force_login(persona(Account.Role.HOLDER))
    for step in ("show", "confirm"):
        assert browser.post("/renew/", {"token": token_of(link), "step": step}).status_code == 404
    assert not Order.objects.filter(kind="renewal").exists()
