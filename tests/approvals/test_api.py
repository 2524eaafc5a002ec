"""The approvals API: lists scoped like everything else, details, approve and reject with their errors."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from approvals.models import ApprovalRequest

from .conftest import ask

pytestmark = pytest.mark.django_db
HUGE = 2**70


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert body["message"]
    return body


def test_the_anonymous_get_401(sample):
    assert_error(client_for().get("/api/v1/approvals/"), 401, "not_authenticated")
    assert_error(
        client_for().post("/api/v1/approvals/1/approve/", {}, format="json"), 401, "not_authenticated"
    )


def test_the_list_is_paginated_and_scoped(sample, cnom, cnom2, oni):
    same_authority = lambda user, request: user.account.authority_id == request.authority_id  # noqa: E731
    sample.register(may_approve=same_authority, may_request=lambda user, payload: user == cnom)
    request = ask(cnom)
    body = client_for(cnom2).get("/api/v1/approvals/").json()
    assert body["count"] == 1
    (item,) = body["results"]
    assert item["id"] == request.pk
    assert item["requested_by"] == cnom.username
    assert item["state"] == "pending"
    assert item["you_may_decide"] is True
    assert item["action_label"] == "Action d'essai"
    assert client_for(oni).get("/api/v1/approvals/").json()["count"] == 0
    assert client_for(cnom).get("/api/v1/approvals/").json()["results"][0]["you_may_decide"] is False


def test_the_list_filters(sample, cnom, cnom2):
    mine, theirs = ask(cnom, "a"), ask(cnom2, "b")
    api = client_for(cnom)
    assert [r["id"] for r in api.get("/api/v1/approvals/?mine=true").json()["results"]] == [mine.pk]
    assert [r["id"] for r in api.get("/api/v1/approvals/?awaiting_me=true").json()["results"]] == [theirs.pk]
    assert api.get("/api/v1/approvals/?state=executed").json()["count"] == 0
    assert_error(api.get("/api/v1/approvals/?state=nonsense"), 400, "invalid")
    assert_error(api.get("/api/v1/approvals/?limit=0"), 400, "invalid")


def test_the_detail_shows_the_payload_and_decisions(sample, cnom, cnom2):
    request = ask(cnom, "waive")
    body = client_for(cnom2).get(f"/api/v1/approvals/{request.pk}/").json()
    assert body["payload"] == {"what": "waive"}
    assert body["decisions"] == []
    assert body["result"] is None


@pytest.mark.parametrize("path", ["999999", str(HUGE), "abc", "-1"])
def test_an_unknown_request_is_404(sample, cnom, path):
    assert_error(client_for(cnom).get(f"/api/v1/approvals/{path}/"), 404, "not_found")
    assert_error(
        client_for(cnom).post(f"/api/v1/approvals/{path}/approve/", {}, format="json"), 404, "not_found"
    )


def test_a_request_outside_ones_scope_is_404(sample, cnom, holder):
    request = ask(cnom)
    assert_error(client_for(holder).get(f"/api/v1/approvals/{request.pk}/"), 404, "not_found")
    response = client_for(holder).post(f"/api/v1/approvals/{request.pk}/approve/", {}, format="json")
    assert_error(response, 404, "not_found")


def test_another_operator_approves_and_the_action_runs(sample, cnom, cnom2):
    request = ask(cnom, "waive")
    response = client_for(cnom2).post(
        f"/api/v1/approvals/{request.pk}/approve/", {"comment": "ok"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "executed"
    assert body["approvals"] == 1
    assert body["decisions"][0]["approver"] == cnom2.username
    assert body["result"] is None  # the result is the requester's to read
    assert sample.executed == [request.pk]
    mine = client_for(cnom).get(f"/api/v1/approvals/{request.pk}/").json()
    assert mine["result"] == {"done": "waive"}


def test_approve_without_a_body_is_fine(sample, cnom, cnom2):
    request = ask(cnom)
    assert client_for(cnom2).post(f"/api/v1/approvals/{request.pk}/approve/").status_code == 200


def test_the_requester_gets_403_self_approval(sample, cnom):
    request = ask(cnom)
    assert_error(
        client_for(cnom).post(f"/api/v1/approvals/{request.pk}/approve/", {}, format="json"),
        403,
        "self_approval",
    )
    assert sample.executed == []


def test_an_approver_the_action_refuses_gets_403(sample, cnom, ans):
    sample.register(may_approve=lambda user, request: user.account.authority_id == request.authority_id)
    request = ask(cnom)
    assert_error(
        client_for(ans).post(f"/api/v1/approvals/{request.pk}/approve/", {}, format="json"),
        403,
        "not_permitted",
    )


def test_deciding_a_decided_request_is_409(sample, cnom, cnom2, cnom3):
    request = ask(cnom)
    client_for(cnom2).post(f"/api/v1/approvals/{request.pk}/approve/", {}, format="json")
    response = client_for(cnom3).post(
        f"/api/v1/approvals/{request.pk}/reject/", {"comment": "trop tard"}, format="json"
    )
    body = assert_error(response, 409, "not_pending")
    assert body["state"] == "executed"


def test_an_expired_request_is_409_and_shown_expired(sample, cnom, cnom2):
    from datetime import timedelta

    from django.utils import timezone

    request = ask(cnom)
    ApprovalRequest.objects.filter(pk=request.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client_for(cnom2).get(f"/api/v1/approvals/{request.pk}/").json()["state"] == "expired"
    assert_error(
        client_for(cnom2).post(f"/api/v1/approvals/{request.pk}/approve/", {}, format="json"), 409, "expired"
    )


def test_reject_needs_a_comment(sample, cnom, cnom2):
    request = ask(cnom)
    body = assert_error(
        client_for(cnom2).post(f"/api/v1/approvals/{request.pk}/reject/", {}, format="json"), 400, "invalid"
    )
    assert "comment" in body["fields"]
    response = client_for(cnom2).post(
        f"/api/v1/approvals/{request.pk}/reject/", {"comment": "non"}, format="json"
    )
    assert response.json()["state"] == "rejected"
    assert sample.executed == []


@pytest.mark.parametrize("body", [[], "x", 3])
def test_a_body_that_is_not_an_object_is_400(sample, cnom, cnom2, body):
    request = ask(cnom)
    response = client_for(cnom2).post(f"/api/v1/approvals/{request.pk}/approve/", body, format="json")
    assert_error(response, 400, "invalid")
