"""/api/v1/ (given by the README as the API) answers an index of its resources with links."""

import pytest

pytestmark = pytest.mark.django_db


def test_the_api_root_lists_the_resources_with_links(client):
    response = client.get("/api/v1/")
    assert response.status_code == 200
    body = response.json()
    resources = body["resources"]
    for name in ("orders", "persons", "cards", "messages", "stations", "ecps", "approvals"):
        assert resources[name] == f"http://testserver/api/v1/{name}/", resources.get(name)
    assert not any("<" in url for url in resources.values())  # only routes without a path parameter
    assert body["schema"] == "http://testserver/api/schema/"
    assert body["docs"] == "http://testserver/api/docs/"


def test_every_link_of_the_api_root_is_a_real_endpoint(client):
    for name, url in client.get("/api/v1/").json()["resources"].items():
        status = client.get(url).status_code
        assert status in {200, 401, 403, 405}, (name, url, status)  # anonymous: never a 404 nor a 500


def test_the_api_root_answers_only_get(client):
    response = client.post("/api/v1/", {})
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
