"""Friendly error pages in every mode (DEBUG on or off), in the person's language; JSON under /api/."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.urls import path
from django.utils import translation

from config import errors
from registry.models import Account
from tests.factories import persona

pytestmark = pytest.mark.django_db


def _boom(request: HttpRequest):
    raise RuntimeError("boom")


def _forbidden(request: HttpRequest):
    raise PermissionDenied


def _suspicious(request: HttpRequest):
    raise SuspiciousOperation("bad")


def _slow_down(request: HttpRequest):
    return HttpResponse("slow down", status=429, content_type="text/plain", headers={"Retry-After": "30"})


# A URLconf of the whole site plus views that fail, for the handlers' sake.
from config.urls import urlpatterns as site_patterns  # noqa: E402

urlpatterns = [
    path("api/v1/boom/", _boom),
    path("boom/", _boom),
    path("forbidden/", _forbidden),
    path("api/v1/forbidden/", _forbidden),
    path("api/v1/slow-down/", _slow_down),
    path("suspicious/", _suspicious),
    *site_patterns,
]
handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.health.not_found"
handler500 = "config.errors.server_error"


@pytest.fixture
def failing_urls(settings):
    settings.ROOT_URLCONF = __name__


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


def html(response) -> str:
    assert response["Content-Type"].startswith("text/html"), response["Content-Type"]
    return response.content.decode()


def test_an_unknown_page_is_the_french_404_page_in_every_mode(client, debug):
    response = client.get("/nowhere/")
    assert response.status_code == 404
    page = html(response)
    assert "Page introuvable" in page
    assert "Erreur 404" in page
    assert "URLconf" not in page and "api/v1/" not in page  # never DEBUG's list of every URL
    assert 'class="fr-btn"' in page


def test_the_404_page_is_english_for_an_english_reader(client, debug):
    client.cookies["django_language"] = "en"
    page = html(client.get("/nowhere/"))
    assert "Page not found" in page
    assert "Page introuvable" not in page


def test_debug_404_can_still_be_technical(client, settings):
    settings.DEBUG = True
    settings.CPX_DEBUG_404 = "technical"
    page = html(client.get("/nowhere/"))
    assert "URLconf" in page


@pytest.fixture
def operator_client(client):
    client.force_login(persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"))
    return client


def test_a_view_raising_404_shows_the_friendly_page_in_debug(operator_client, settings):
    settings.DEBUG = True
    response = operator_client.get("/backoffice/orders/999999999/")
    assert response.status_code == 404
    assert "Page introuvable" in html(response)


def test_get_on_a_post_only_url_is_the_405_page(operator_client, debug):
    response = operator_client.get("/backoffice/orders/1/approve/")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    page = html(response)
    assert "Action indisponible" in page
    assert "Erreur 405" in page


def test_403_page(client, failing_urls, debug):
    response = client.get("/forbidden/")
    assert response.status_code == 403
    assert "Accès refusé" in html(response)


def test_400_page(client, failing_urls):
    response = client.get("/suspicious/")
    assert response.status_code == 400
    assert "Requête incorrecte" in html(response)


def test_500_page_is_standalone_and_french(failing_urls, settings):
    from django.test import Client

    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    page = html(response)
    assert "Erreur du serveur" in page
    assert "dsfr" in page and "<h1>" in page


def test_the_500_page_renders_without_a_database_or_request(django_assert_num_queries):
    with translation.override("en"), django_assert_num_queries(0):
        response = errors.server_error(RequestFactory().get("/somewhere/"))
    assert response.status_code == 500
    assert "Server error" in response.content.decode()


def test_a_csrf_failure_is_the_403_page(settings):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
    assert "Le formulaire a expiré" in html(response)


# --- the API: JSON in the error shape, whatever the status ---------------------------------------------


def api_json(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = response.json()
    assert set(body) == {"code", "message"}, body
    assert body["code"] == code
    return body


def test_api_unknown_url_is_json_404_in_every_mode(client, debug):
    api_json(client.get("/api/v1/nowhere/"), 404, "not_found")


def test_api_wrong_method_is_json_405(client, debug):
    response = client.delete("/api/v1/")
    api_json(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


def test_api_too_large_body_is_json_413(client, settings, debug):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client.post("/api/v1/orders/", json.dumps({"x": "y" * 2000}), content_type="application/json")
    api_json(response, 413, "request_too_large")


def test_api_server_error_is_json_500(failing_urls, debug):
    from django.test import Client

    api_json(Client(raise_request_exception=False).get("/api/v1/boom/"), 500, "server_error")


def test_api_permission_denied_is_json_403(client, failing_urls):
    api_json(client.get("/api/v1/forbidden/"), 403, "not_permitted")


def test_api_throttled_answer_is_json_429_and_keeps_retry_after(client, failing_urls, debug):
    response = client.get("/api/v1/slow-down/")
    api_json(response, 429, "throttled")
    assert response["Retry-After"] == "30"
