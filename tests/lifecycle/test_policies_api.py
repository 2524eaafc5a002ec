"""The issuance policies' API (issue 16): GET /api/v1/policies/, PUT and DELETE of one row. Each persona;
who first (401, 403), then the path (404), then the body (400)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from audit.models import AuditRecord
from lifecycle.models import IssuancePolicy
from orders.services import system_user
from registry.models import Account
from tests.factories import persona

pytestmark = pytest.mark.django_db

LIST = "/api/v1/policies/"
CPS_FIRST = "/api/v1/policies/CPS/first/"
BAD = {"mode": "sometimes", "approve": 1}  # invalid for everyone
GOOD = {"mode": "proposed", "approve": False}


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def personas() -> dict:
    return {
        "holder": persona(Account.Role.HOLDER),
        "manager": persona(Account.Role.STRUCTURE_MANAGER),
        "auditor": persona(Account.Role.AUDITOR),
        "cnom": persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"),
        "cnop": persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOP"),
        "ans": persona(Account.Role.ANS_OPERATOR),
        "station": system_user(),
        "anonymous": None,
    }


def test_each_persona_reads_what_it_may():
    seen = {}
    for name, user in personas().items():
        response = client_for(user).get(LIST)
        seen[name] = response.status_code
        if response.status_code == 200:
            seen[name] = {row["authority"] for row in response.json()}
    assert seen["holder"] == seen["manager"] == 403
    assert seen["anonymous"] == 401
    assert seen["cnom"] == {"CNOM"} and seen["cnop"] == {"CNOP"} and seen["ans"] == {"ANS"}
    assert seen["auditor"] >= {"CNOM", "CNOP", "ANS"} and seen["station"] == seen["auditor"]


def test_a_row_as_the_api_gives_it():
    response = client_for(persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")).get(LIST)
    first = next(r for r in response.json() if (r["card_type"], r["trigger"]) == ("CPS", "first"))
    assert first["mode"] == "automatic" and first["approve"] is True
    assert first["profession"] is None and first["profession_label"] is None and first["updated_by"] is None


@pytest.mark.parametrize(
    "path, expected",
    [
        # CNOP's operator changes CNOP's own CPS row: the path names no authority, so it is theirs.
        (
            CPS_FIRST,
            {
                "holder": 403,
                "manager": 403,
                "auditor": 403,
                "station": 403,
                "anonymous": 401,
                "cnom": 400,
                "cnop": 400,
                "ans": 400,
            },
        ),
        # Profession 10 is CNOM's: not found for CNOP and ANS.
        (
            "/api/v1/policies/CPS/first/10/",
            {"holder": 403, "auditor": 403, "anonymous": 401, "cnom": 400, "cnop": 404, "ans": 404},
        ),
        # No first CPE is read from the registry: not a row anyone has.
        (
            "/api/v1/policies/CPE/first/",
            {"holder": 403, "auditor": 403, "anonymous": 401, "cnom": 404, "ans": 404},
        ),
        ("/api/v1/policies/CPS/nope/", {"holder": 403, "cnom": 404}),
    ],
)
def test_permission_then_path_then_body(path, expected):
    users = personas()
    got = {name: client_for(users[name]).put(path, BAD, format="json").status_code for name in expected}
    assert got == expected
    assert not IssuancePolicy.objects.filter(updated_by__isnull=False).exists()


def test_an_operator_changes_a_row_and_reads_it_back():
    cnom = persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM")
    client = client_for(cnom)
    response = client.put(CPS_FIRST, GOOD, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["authority"], body["mode"], body["approve"], body["updated_by"]) == (
        "CNOM",
        "proposed",
        False,
        cnom.username,
    )
    listed = [r for r in client.get(LIST).json() if (r["card_type"], r["trigger"]) == ("CPS", "first")]
    assert listed == [body]
    assert AuditRecord.objects.filter(action="issuance_policy.changed", actor_id=cnom.pk).count() == 1


def test_a_profession_row_put_then_deleted():
    client = client_for(persona(Account.Role.AUTHORITY_OPERATOR, authority="ONI"))
    path = "/api/v1/policies/CPS/renewal/69/"
    response = client.put(path, {"mode": "off", "approve": False}, format="json")
    assert response.status_code == 200 and response.json()["profession_label"] == "Infirmier psychiatrique"
    assert IssuancePolicy.objects.filter(profession_id="69").count() == 1
    assert client.delete(path).status_code == 204
    assert not IssuancePolicy.objects.filter(profession_id="69").exists()
    assert client.delete(path).status_code == 204  # harmless again
    assert client_for(persona(Account.Role.AUDITOR)).delete(path).status_code == 403
    assert client.delete("/api/v1/policies/CPS/renewal/10/").status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [
        ({"mode": "proposed"}, "approve"),
        ({"approve": True}, "mode"),
        ({"mode": "proposed", "approve": "true"}, "approve"),
        ({"mode": "proposed", "approve": 0}, "approve"),
        ({"mode": "Automatic", "approve": True}, "mode"),
    ],
)
def test_a_bad_body_names_its_field(body, field):
    client = client_for(persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"))
    response = client.put(CPS_FIRST, body, format="json")
    assert response.status_code == 400 and field in response.json()["fields"], response.content


def test_a_body_that_is_not_an_object_is_400():
    client = client_for(persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"))
    assert client.put(CPS_FIRST, ["proposed"], format="json").status_code == 400


def test_the_schema_declares_the_endpoints():
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    put = schema["paths"]["/api/v1/policies/{card_type}/{trigger}/"]["put"]
    assert {"400", "401", "403", "404"} <= set(put["responses"])
    trigger = next(p for p in put["parameters"] if p["name"] == "trigger")
    assert sorted(trigger["schema"]["enum"]) == ["first", "renewal", "training", "update"]
    profession_path = schema["paths"]["/api/v1/policies/{card_type}/{trigger}/{profession}/"]
    assert {"put", "delete"} <= set(profession_path)
    assert "page" not in str(schema["paths"]["/api/v1/policies/"]["get"]["responses"]["200"])
