"""Two-person approval: quorum, self-approval, rejection, expiry, double decisions, permits, visibility."""

from __future__ import annotations

import datetime

import pytest
from django.db import transaction
from django.utils import timezone

from approvals import errors
from approvals import services as approvals
from approvals.models import ApprovalDecision, ApprovalRequest
from core.errors import DomainError, NotPermitted

from .conftest import SAMPLE, ask

pytestmark = pytest.mark.django_db

State = ApprovalRequest.State


def audited(request: ApprovalRequest) -> list[str]:
    from audit.models import AuditRecord

    rows = AuditRecord.objects.filter(object_type="approval_request", object_id=str(request.pk))
    return list(rows.order_by("seq").values_list("action", flat=True))


def test_a_request_waits_for_another_person(sample, cnom):
    request = ask(cnom)
    assert request.state == State.PENDING
    assert request.requested_by == cnom
    assert request.quorum == 1
    assert abs(request.expires_at - (timezone.now() + datetime.timedelta(hours=48))) < datetime.timedelta(
        minutes=1
    )
    assert sample.executed == []
    assert audited(request) == ["approval.requested"]


def test_one_approval_by_another_operator_executes_the_action_once(sample, cnom, cnom2):
    request = ask(cnom, "waive")
    decided = approvals.decide(request_id=request.pk, actor=cnom2, approve=True, comment="vu")
    assert decided.state == State.EXECUTED
    assert decided.result == {"done": "waive"}
    assert decided.executed_at is not None
    assert sample.executed == [request.pk]
    assert audited(request) == ["approval.requested", "approval.decided", "approval.executed"]


@pytest.mark.parametrize("approve", [True, False])
def test_the_requester_can_neither_approve_nor_reject(sample, cnom, approve):
    request = ask(cnom)
    with pytest.raises(errors.SelfApproval) as refused:
        approvals.decide(request_id=request.pk, actor=cnom, approve=approve)
    assert (refused.value.code, refused.value.status) == ("self_approval", 403)
    request.refresh_from_db()
    assert request.state == State.PENDING
    assert not ApprovalDecision.objects.exists()
    assert sample.executed == []


def test_the_requester_is_refused_even_if_may_approve_would_admit_anyone(sample, cnom):
    sample.register(may_approve=lambda user, request: True)
    request = ask(cnom)
    with pytest.raises(errors.SelfApproval):
        approvals.decide(request_id=request.pk, actor=cnom, approve=True)


def test_the_quorum_counts_distinct_people_other_than_the_requester(sample, cnom, cnom2, cnom3):
    sample.register(quorum=2)
    request = ask(cnom)
    first = approvals.decide(request_id=request.pk, actor=cnom2, approve=True)
    assert first.state == State.PENDING
    assert sample.executed == []
    with pytest.raises(errors.AlreadyDecided):  # the same person twice is still one person
        approvals.decide(request_id=request.pk, actor=cnom2, approve=True)
    second = approvals.decide(request_id=request.pk, actor=cnom3, approve=True)
    assert second.state == State.EXECUTED
    assert sample.executed == [request.pk]


def test_any_rejection_rejects(sample, cnom, cnom2, cnom3):
    sample.register(quorum=2)
    request = ask(cnom)
    approvals.decide(request_id=request.pk, actor=cnom2, approve=True)
    rejected = approvals.decide(request_id=request.pk, actor=cnom3, approve=False, comment="non")
    assert rejected.state == State.REJECTED
    assert sample.executed == []
    assert list(rejected.decisions.values_list("approve", "comment")) == [(True, ""), (False, "non")]


def test_a_decided_request_cannot_be_decided_again(sample, cnom, cnom2, cnom3):
    request = ask(cnom)
    approvals.decide(request_id=request.pk, actor=cnom2, approve=True)
    with pytest.raises(errors.NotPending) as refused:
        approvals.decide(request_id=request.pk, actor=cnom3, approve=True)
    assert (refused.value.code, refused.value.status) == ("not_pending", 409)
    assert sample.executed == [request.pk]


def test_someone_the_action_does_not_admit_may_not_decide(sample, cnom, ans):
    sample.register(may_approve=lambda user, request: user.account.authority_id == request.authority_id)
    request = ask(cnom)
    with pytest.raises(NotPermitted) as refused:  # ANS sees every request, but this action wants CNOM's
        approvals.decide(request_id=request.pk, actor=ans, approve=True)
    assert refused.value.status == 403
    assert refused.value.code == "not_permitted"


def test_a_request_outside_ones_scope_is_not_found(sample, cnom, oni, holder):
    sample.register(may_approve=lambda user, request: False, may_request=lambda user, payload: user == cnom)
    request = ask(cnom)
    for stranger in (oni, holder):
        with pytest.raises(errors.RequestNotFound) as refused:
            approvals.decide(request_id=request.pk, actor=stranger, approve=True)
        assert refused.value.status == 404
    with pytest.raises(errors.RequestNotFound):
        approvals.decide(request_id=request.pk + 1000, actor=cnom, approve=True)


def test_an_expired_request_is_refused_and_stays_expired(sample, cnom, cnom2):
    request = ask(cnom)
    ApprovalRequest.objects.filter(pk=request.pk).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    with pytest.raises(errors.Expired) as refused:
        approvals.decide(request_id=request.pk, actor=cnom2, approve=True)
    assert (refused.value.code, refused.value.status) == ("expired", 409)
    request.refresh_from_db()
    assert request.state == State.EXPIRED
    assert not ApprovalDecision.objects.exists()
    assert sample.executed == []
    assert audited(request) == ["approval.requested", "approval.expired"]
    with pytest.raises(errors.NotPending):
        approvals.decide(request_id=request.pk, actor=cnom2, approve=True)


def test_the_sweep_expires_only_overdue_requests(sample, cnom):
    overdue, current = ask(cnom, "a"), ask(cnom, "b")
    ApprovalRequest.objects.filter(pk=overdue.pk).update(
        expires_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    assert approvals.expire_overdue() == 1
    assert approvals.expire_overdue() == 0
    overdue.refresh_from_db(), current.refresh_from_db()
    assert (overdue.state, current.state) == (State.EXPIRED, State.PENDING)


def test_the_ttl_is_the_actions(sample, cnom):
    sample.register(ttl_hours=2)
    request = ask(cnom)
    assert request.expires_at - request.created_at == datetime.timedelta(hours=2)


def test_an_error_of_the_action_rolls_the_decision_back_and_reaches_the_approver(sample, cnom, cnom2):
    sample.fail_with = DomainError("plus possible", code="gone")
    request = ask(cnom)
    with pytest.raises(DomainError) as failed:
        approvals.decide(request_id=request.pk, actor=cnom2, approve=True)
    assert failed.value.code == "gone"
    request.refresh_from_db()
    assert request.state == State.PENDING
    assert not ApprovalDecision.objects.exists()
    assert audited(request) == ["approval.requested"]


def test_who_may_request_is_the_actions_rule(sample, holder):
    with pytest.raises(NotPermitted):
        approvals.request(action=SAMPLE, actor=holder, payload={}, summary="x")
    assert not ApprovalRequest.objects.exists()


def test_an_unknown_action_cannot_be_requested(cnom):
    with pytest.raises(errors.UnknownAction):
        approvals.request(action="nobody.registered", actor=cnom, payload={}, summary="x")


def test_the_same_action_on_the_same_object_cannot_wait_twice(sample, cnom, cnom2):
    first = ask(cnom, object_type="order", object_id="12")
    with pytest.raises(errors.AlreadyRequested) as refused:
        ask(cnom2, object_type="order", object_id="12")
    assert refused.value.extra == {"request_id": first.pk}
    assert ask(cnom, object_type="order", object_id="13").pk != first.pk


def test_the_requester_may_cancel_a_waiting_request_and_nobody_else(sample, cnom, cnom2):
    request = ask(cnom)
    with pytest.raises(NotPermitted):
        approvals.withdraw(request_id=request.pk, actor=cnom2)
    cancelled = approvals.withdraw(request_id=request.pk, actor=cnom)
    assert cancelled.state == State.CANCELLED
    with pytest.raises(errors.NotPending):
        approvals.decide(request_id=request.pk, actor=cnom2, approve=True)


# --- permits (approvals used by a later run: --approval ID) -------------------------------------------------


def _permit(sample, cnom, cnom2, object_id: str = "abc") -> ApprovalRequest:
    request = ask(cnom, object_type="file", object_id=object_id)
    return approvals.decide(request_id=request.pk, actor=cnom2, approve=True)


def test_an_executed_permit_is_used_once(sample, cnom, cnom2):
    permit = _permit(sample, cnom, cnom2)
    with transaction.atomic():
        approvals.consume(request_id=permit.pk, action=SAMPLE, object_type="file", object_id="abc")
    with pytest.raises(errors.ApprovalRequired), transaction.atomic():
        approvals.consume(request_id=permit.pk, action=SAMPLE, object_type="file", object_id="abc")


def test_a_permit_rolled_back_with_its_action_can_be_used_again(sample, cnom, cnom2):
    permit = _permit(sample, cnom, cnom2)
    with pytest.raises(RuntimeError), transaction.atomic():
        approvals.consume(request_id=permit.pk, action=SAMPLE, object_type="file", object_id="abc")
        raise RuntimeError("the import failed")
    with transaction.atomic():
        assert approvals.consume(request_id=permit.pk, action=SAMPLE, object_type="file", object_id="abc")


@pytest.mark.parametrize(
    "action, object_id",
    [(SAMPLE, "other-file"), ("tests.other", "abc")],
    ids=["another object", "another action"],
)
def test_a_permit_is_for_its_action_and_object_only(sample, cnom, cnom2, action, object_id):
    permit = _permit(sample, cnom, cnom2)
    with pytest.raises(errors.ApprovalRequired), transaction.atomic():
        approvals.consume(request_id=permit.pk, action=action, object_type="file", object_id=object_id)


def test_a_pending_permit_cannot_be_used(sample, cnom):
    request = ask(cnom, object_type="file", object_id="abc")
    with pytest.raises(errors.ApprovalRequired), transaction.atomic():
        approvals.consume(request_id=request.pk, action=SAMPLE, object_type="file", object_id="abc")


# --- who sees what ------------------------------------------------------------------------------------------


def test_visibility_follows_the_authority_the_requester_and_the_action(sample, cnom, cnom2, oni, ans, holder):
    sample.register(
        may_approve=lambda user, request: False,
        may_request=lambda user, payload: user.username in (payload.get("who"), cnom.username),
    )
    cnom_request = ask(cnom)
    addressed = approvals.request(
        action=SAMPLE, actor=cnom, payload={"who": holder.username}, summary="x", authority_id=None
    )
    assert set(approvals.visible_to(cnom2)) == {cnom_request}  # same authority (not the authority-less one)
    assert set(approvals.visible_to(cnom)) == {cnom_request, addressed}  # their own
    assert set(approvals.visible_to(ans)) == {cnom_request, addressed}  # ANS: all
    assert set(approvals.visible_to(holder)) == {addressed}  # admitted by the action's may_request
    assert set(approvals.visible_to(oni)) == set()


def test_awaiting_lists_what_the_user_may_decide_now(sample, cnom, cnom2, oni):
    mine, theirs = ask(cnom), ask(cnom2)
    assert set(approvals.awaiting(cnom)) == {theirs}
    assert set(approvals.awaiting(cnom2)) == {mine}
    approvals.decide(request_id=mine.pk, actor=cnom2, approve=True)
    assert set(approvals.awaiting(cnom2)) == set()
    assert set(approvals.awaiting(oni)) == {
        theirs
    }  # another Ordre, but admitted by may_approve (any operator)
