"""Permission before validation, for the APIs of lifecycle, approvals and registry imports: a persona ×
endpoint table, each request with an INVALID body. Whoever may not take the action at all is told so (401
not signed in, 403 not permitted, 404 when the object is not theirs to see) before anything they sent is
read; only those who may take it learn that the body is wrong (400). A permitted caller with a valid body on
an object in the wrong state gets 409.

Personas: the card's holder, the auditor, the card's Ordre's operator (CNOM), another Ordre's operator
(CNOP), an ANS operator, a station (the platform's own account) and anonymous.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from approvals import services as approvals
from cards.models import Card
from registry.models import Account
from tests.factories import persona

from .conftest import card_of_an_order

pytestmark = pytest.mark.django_db

PERSONAS = ["holder", "auditor", "cnom", "cnop", "ans", "station", "anonymous"]


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str  # with {card}, {shipped} or {approval}
    body: Any  # invalid for everyone
    expected: dict[str, int]  # persona -> status


CASES = [
    Case(
        "opposition",
        "post",
        "/api/v1/cards/{card}/opposition/",
        {"reason": "forgotten"},
        # ANS reviews no Ordre's card, another Ordre neither: not theirs to see.
        {"holder": 400, "auditor": 403, "cnom": 400, "cnop": 404, "ans": 404, "station": 400},
    ),
    Case(
        "activation",
        "post",
        "/api/v1/cards/{shipped}/activation/",
        {"confirm_receipt": 0},
        {"holder": 400, "auditor": 403, "cnom": 403, "cnop": 404, "ans": 404, "station": 403},
    ),
    Case(
        "codes reissue",
        "post",
        "/api/v1/cards/{card}/codes-reissue/",
        {"identity_check": "x" * 1001},
        # ANS's help desk serves every card; the others are not shown the card.
        {"holder": 400, "auditor": 404, "cnom": 400, "cnop": 404, "ans": 400, "station": 404},
    ),
    Case(
        "unblock request",
        "post",
        "/api/v1/cards/{card}/unblock-requests/",
        {"challenge": "", "identity_check": ""},
        {"holder": 403, "auditor": 403, "cnom": 400, "cnop": 404, "ans": 400, "station": 403},
    ),
    Case(
        "shipping batch",
        "post",
        "/api/v1/shipping-batches/",
        {"carrier": "La Poste", "reference": "B-1", "cards": []},
        {"holder": 403, "auditor": 403, "cnom": 403, "cnop": 403, "ans": 400, "station": 400},
    ),
    Case(
        "auto-renewal policy",
        "put",
        "/api/v1/auto-renewal-policies/10/",
        {"enabled": 0},
        # Profession 10 is CNOM's: to CNOP's operator it is not found.
        {"holder": 403, "auditor": 403, "cnom": 400, "cnop": 404, "ans": 403, "station": 403},
    ),
    Case(
        "approve",
        "post",
        "/api/v1/approvals/{approval}/approve/",
        {"comment": ["not", "a", "text"]},
        # The holder asked for it (self-approval); the auditor and the platform see it, decide nothing.
        {"holder": 403, "auditor": 403, "cnom": 400, "cnop": 404, "ans": 400, "station": 403},
    ),
    Case(
        "reject",
        "post",
        "/api/v1/approvals/{approval}/reject/",
        {"comment": "   "},
        {"holder": 403, "auditor": 403, "cnom": 400, "cnop": 404, "ans": 400, "station": 403},
    ),
    Case(
        "renewal link",
        "post",
        "/api/v1/renewal-links/confirm/",
        {"token": ["not", "a", "token"]},
        # The token is the credential: anyone may try one, so everyone is told the body is wrong.
        dict.fromkeys(PERSONAS, 400),
    ),
]


@pytest.fixture
def world(tariff):
    card = card_of_an_order()
    shipped = card_of_an_order(state=Card.State.SHIPPED)
    shipped.professional = card.professional
    Card.objects.filter(pk=shipped.pk).update(professional=card.professional)
    holder = persona(Account.Role.HOLDER, professional=card.professional)
    approval = approvals.request(
        action="codes.reissue", actor=holder, payload={"card": card.pk}, summary="codes letter again"
    )
    users = {
        "holder": holder,
        "auditor": persona(Account.Role.AUDITOR),
        "cnom": persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"),
        "cnop": persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOP"),
        "ans": persona(Account.Role.ANS_OPERATOR),
        "station": persona(Account.Role.SYSTEM),
        "anonymous": None,
    }
    ids = {"card": card.pk, "shipped": shipped.pk, "approval": approval.pk}
    return users, ids


def call(user: Any, method: str, path: str, body: Any):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return getattr(client, method)(path, body, format="json")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_who_may_not_act_is_refused_before_the_body_is_read(world, case):
    users, ids = world
    path = case.path.format(**ids)
    expected = {"anonymous": 401, **case.expected}
    got = {who: call(users[who], case.method, path, case.body).status_code for who in PERSONAS}
    assert got == expected


@pytest.mark.parametrize("who", ["holder", "auditor", "cnom", "station"])
def test_registry_imports_refuse_everyone_but_ans_before_the_upload_is_read(world, who):
    users, _ids = world
    client = APIClient()
    client.force_authenticate(users[who])
    response = client.post("/api/v1/registry/imports/", {"full": "perhaps"}, format="multipart")
    assert response.status_code == 403, response.content
    client.force_authenticate(users["ans"])
    response = client.post("/api/v1/registry/imports/", {"full": "perhaps"}, format="multipart")
    assert response.status_code == 400 and set(response.json()["fields"]) == {"file", "full"}


# --- wrong state: 409, for those who may act, with a valid body -----------------------------------------


def test_activating_a_card_that_is_not_shipped_is_409(world):
    users, ids = world
    response = call(
        users["holder"], "post", f"/api/v1/cards/{ids['card']}/activation/", {"confirm_receipt": True}
    )
    assert response.status_code == 409 and response.json()["code"] == "invalid_state"


def test_opposing_a_dead_card_is_409(world):
    users, ids = world
    Card.objects.filter(pk=ids["card"]).update(state=Card.State.EXPIRED)
    response = call(users["holder"], "post", f"/api/v1/cards/{ids['card']}/opposition/", {"reason": "lost"})
    assert response.status_code == 409, response.content


def test_shipping_a_card_not_personalized_is_409(world):
    users, ids = world
    body = {
        "carrier": "La Poste",
        "reference": "B-9",
        "cards": [{"card": ids["card"], "tracking_reference": "1"}],
    }
    response = call(users["ans"], "post", "/api/v1/shipping-batches/", body)
    assert response.status_code == 409, response.content


def test_deciding_a_decided_request_is_409(world):
    users, ids = world
    path = f"/api/v1/approvals/{ids['approval']}/reject/"
    assert call(users["cnom"], "post", path, {"comment": "not needed"}).status_code == 200
    response = call(users["ans"], "post", path, {"comment": "not needed either"})
    assert response.status_code == 409 and response.json()["code"] == "not_pending"
