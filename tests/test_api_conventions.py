"""What every API endpoint shares: JSON errors in one shape, 401 for the anonymous, nested field paths."""

import pytest
from rest_framework import exceptions

from core.api import _flatten

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    "/api/v1/orders/",
    "/api/v1/persons/",
    "/api/v1/cards/",
    "/api/v1/messages/",
    "/api/v1/stations/",
    "/api/v1/ecps/",
]


@pytest.mark.parametrize("url", ENDPOINTS)
def test_the_anonymous_get_401_in_the_api_error_shape(client, url):
    response = client.get(url)
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message"}
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize(
    "url", ["/api/v1/nowhere/", "/api/v1/cards/null%2Cnull/activation/", "/api/v1/shipping-batches/x/"]
)
def test_an_unknown_api_path_answers_json_404(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "not_found"


def test_an_unknown_portal_path_answers_the_html_page(client):
    response = client.get("/nowhere/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_nested_validation_errors_get_dotted_field_paths():
    error = exceptions.ValidationError(
        {"cards": [{}, {"tracking_reference": ["required"]}], "carrier": ["blank"]}
    ).detail
    assert _flatten(error) == {"cards.1.tracking_reference": ["required"], "carrier": ["blank"]}


def test_the_api_docs_are_served_without_a_cdn(client):
    page = client.get("/api/docs/").content.decode()
    assert "cdn.jsdelivr.net" not in page
    assert "/static/drf_spectacular_sidecar/" in page
