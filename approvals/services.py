"""Two-person approval: the use cases, and the registry of the actions that need it.

An upper app registers each sensitive action once, in its ``AppConfig.ready()``::

    approvals.register("orders.fee_waiver", label=..., may_request=..., may_approve=..., execute=...)

then its entry points call ``request(...)`` instead of acting, and the action is carried out by
``execute(request)`` in the transaction of the approval that reaches the quorum. The rules that hold for
every action live here, once:

- the quorum counts distinct people other than the requester, and the requester can never decide
  (``self_approval``), whatever ``may_approve`` says;
- any one rejection rejects the request;
- a request is decided on a row locked for the transaction (``select_for_update``), so two approvers
  deciding at the same moment are serialized: the second sees the first's outcome, and the action is
  executed once;
- a request past its ``expires_at`` can no longer be decided. Expiry is lazy on decide (the request is
  marked expired when someone tries) and swept by the periodic task ``approvals.expire_overdue``, so the
  lists never show an overdue request as open for long; the read paths use ``is_open``, not the state.
- every step is appended to the audit log (``approval.requested``, ``approval.decided``,
  ``approval.executed``, ``approval.expired``, ``approval.cancelled``, ``approval.used``) in the step's own
  transaction.
- an action whose approval is a permit for a later run (a forced import, a CA operation, run from the
  command line) registers an ``execute`` that only records the grant; the run then ``consume``s the permit,
  once, for the same object.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from audit import log as audit_log
from core.errors import NotPermitted
from core.roles import SEES_ALL, Role, account_of
from core.transitions import Step, fire, lock

from . import errors
from .models import ApprovalDecision, ApprovalRequest

User = Any  # a django.contrib.auth user with an ``account``
MayRequest = Callable[[User, dict], bool]
MayApprove = Callable[[User, ApprovalRequest], bool]
Execute = Callable[[ApprovalRequest], "dict | None"]


@dataclass(frozen=True)
class Handler:
    action: str
    label: str | Promise
    may_request: MayRequest
    may_approve: MayApprove
    execute: Execute
    quorum: int = 1
    ttl_hours: int = 48


_handlers: dict[str, Handler] = {}


def register(
    action: str,
    *,
    label: str | Promise,
    may_request: MayRequest,
    may_approve: MayApprove,
    execute: Execute,
    quorum: int = 1,
    ttl_hours: int = 48,
) -> None:
    """Declare a sensitive action (from the owning app's ``AppConfig.ready()``; registering the same action
    again replaces it, so a reloaded app config is harmless)."""
    if quorum < 1 or ttl_hours < 1:
        raise ValueError("an approval needs a quorum and a lifetime of at least 1")
    _handlers[action] = Handler(action, label, may_request, may_approve, execute, quorum, ttl_hours)


def handler_for(action: str) -> Handler:
    try:
        return _handlers[action]
    except KeyError:
        raise errors.UnknownAction(field="action") from None


def registered() -> dict[str, Handler]:
    return dict(_handlers)


def label_of(action: str) -> str:
    handler = _handlers.get(action)
    return str(handler.label) if handler else action


# --- who sees and who decides ------------------------------------------------------------------------------


def visible_to(user: User) -> QuerySet[ApprovalRequest]:
    """The requests ``user`` may see: everything for ANS's operators, the auditor and the platform; an
    Ordre's operators their authority's; anyone their own requests, those they decided on, and the open
    requests whose action lets them request or approve it.

    The action callbacks run in Python, so they are asked about open requests only (few, and short-lived);
    a closed request stays visible through the authority, the requester and the decisions.
    """
    requests = ApprovalRequest.objects.all()
    account = account_of(user)
    if account is None:
        return requests.none()
    if account.role in SEES_ALL or account.role == Role.ANS_OPERATOR:
        return requests
    scope = Q(requested_by=user) | Q(decisions__approver=user)
    if account.role == Role.AUTHORITY_OPERATOR:
        scope |= Q(authority_id=account.authority_id)
    admitted = [r.pk for r in _open().exclude(scope) if _admits(user, r)]
    return requests.filter(scope | Q(pk__in=admitted)).distinct()


def awaiting(user: User) -> QuerySet[ApprovalRequest]:
    """The open requests ``user`` may decide now: not their own, not yet decided by them, and admitted by
    the action's ``may_approve``."""
    candidates = _open().exclude(requested_by=user).exclude(decisions__approver=user)
    return ApprovalRequest.objects.filter(pk__in=[r.pk for r in candidates if may_decide(user, r)])


def may_decide(user: User, request: ApprovalRequest) -> bool:
    """Whether ``user`` may approve or reject ``request`` (whatever its state)."""
    if account_of(user) is None or request.requested_by_id == user.pk:
        return False
    handler = _handlers.get(request.action)
    return handler is not None and bool(handler.may_approve(user, request))


def _open() -> QuerySet[ApprovalRequest]:
    return ApprovalRequest.objects.filter(state=ApprovalRequest.State.PENDING, expires_at__gt=timezone.now())


def _admits(user: User, request: ApprovalRequest) -> bool:
    handler = _handlers.get(request.action)
    if handler is None:
        return False
    return bool(handler.may_approve(user, request) or handler.may_request(user, request.payload))


# --- use cases ----------------------------------------------------------------------------------------------


def request(
    *,
    action: str,
    actor: User,
    payload: dict,
    summary: str,
    authority_id: int | None = None,
    object_type: str = "",
    object_id: str = "",
) -> ApprovalRequest:
    """Ask for ``action``; nothing is done until the quorum approves. The same action on the same object
    cannot wait twice (``already_requested``, with the id of the one waiting)."""
    handler = handler_for(action)
    if account_of(actor) is None or not handler.may_request(actor, payload):
        raise NotPermitted()
    now = timezone.now()
    with transaction.atomic():
        if object_id:
            _refuse_duplicate(action, object_type, str(object_id))
        created = ApprovalRequest.objects.create(
            action=action,
            summary=summary[:300],
            payload=payload,
            authority_id=authority_id,
            object_type=object_type,
            object_id=str(object_id),
            requested_by=actor,
            quorum=handler.quorum,
            created_at=now,
            expires_at=now + datetime.timedelta(hours=handler.ttl_hours),
        )
        _audit("approval.requested", created, actor, summary=created.summary, quorum=created.quorum)
    return created


def _refuse_duplicate(action: str, object_type: str, object_id: str) -> None:
    same = _open().filter(action=action, object_type=object_type, object_id=object_id)
    # Lock what is waiting, so two identical requests at the same moment do not both pass this check.
    waiting = same.select_for_update().first()
    if waiting is not None:
        raise errors.AlreadyRequested(request_id=waiting.pk)


def decide(*, request_id: int, actor: User, approve: bool, comment: str = "") -> ApprovalRequest:
    """Record ``actor``'s approval or rejection; the approval that reaches the quorum executes the action in
    the same transaction (an error of the action rolls the decision back and reaches the caller)."""
    with transaction.atomic():
        locked = _lock_for_decision(request_id, actor)
        if locked.is_overdue:
            _expire(locked, actor)
            overdue = True
        else:
            overdue = False
            _record_decision(locked, actor, approve, comment)
    if overdue:  # raised out of the transaction, so the expiry is kept
        raise errors.Expired()
    return locked


def _lock_for_decision(request_id: int, actor: User) -> ApprovalRequest:
    if not visible_to(actor).filter(pk=request_id).exists():
        raise errors.RequestNotFound()
    locked = lock(ApprovalRequest.objects, request_id)
    if locked.requested_by_id == actor.pk:
        raise errors.SelfApproval()
    if not may_decide(actor, locked):
        raise NotPermitted()
    if locked.state != ApprovalRequest.State.PENDING:
        raise errors.NotPending(state=locked.state)
    if locked.decisions.filter(approver=actor).exists():
        raise errors.AlreadyDecided()
    return locked


def _record_decision(locked: ApprovalRequest, actor: User, approve: bool, comment: str) -> None:
    """The audit log's lock (held to the commit) is taken last, after the action has locked what it needs:
    a transaction that holds rows and then appends never waits for one that appended first."""
    ApprovalDecision.objects.create(request=locked, approver=actor, approve=approve, comment=comment)
    result = None
    if not approve:
        fire(locked, ["reject"], actor=actor)
    elif _approvals(locked) >= locked.quorum:
        fire(locked, ["approve"], actor=actor)
        result = _execute(locked, actor)
    _audit("approval.decided", locked, actor, approve=approve, comment=comment)
    if result is not None:
        _audit("approval.executed", locked, actor, result=result)


def _approvals(request: ApprovalRequest) -> int:
    """Distinct approvers other than the requester (the requester cannot decide; counted out anyway)."""
    mine = request.decisions.filter(approve=True).exclude(approver_id=request.requested_by_id)
    return mine.values("approver_id").distinct().count()


def _execute(approved: ApprovalRequest, actor: User) -> dict:
    result = handler_for(approved.action).execute(approved)
    fire(approved, [Step("record_execution", kwargs={"result": result or {}})], actor=actor)
    return approved.result or {}


def withdraw(*, request_id: int, actor: User) -> ApprovalRequest:
    """The requester withdraws a request still waiting."""
    with transaction.atomic():
        if not visible_to(actor).filter(pk=request_id).exists():
            raise errors.RequestNotFound()
        locked = lock(ApprovalRequest.objects, request_id)
        if locked.requested_by_id != actor.pk:
            raise NotPermitted()
        if locked.state != ApprovalRequest.State.PENDING:
            raise errors.NotPending(state=locked.state)
        fire(locked, ["cancel"], actor=actor)
        _audit("approval.cancelled", locked, actor)
    return locked


def expire_overdue() -> int:
    """Mark every pending request past its expiry as expired (the periodic sweep). Returns how many."""
    due = ApprovalRequest.objects.filter(state=ApprovalRequest.State.PENDING, expires_at__lte=timezone.now())
    count = 0
    for pk in due.values_list("pk", flat=True):
        with transaction.atomic():
            # skip_locked: a request someone is deciding right now is theirs to settle (decide expires it).
            row = due.select_for_update(skip_locked=True).filter(pk=pk).first()
            if row is not None:
                _expire(row, None)
                count += 1
    return count


def _expire(overdue: ApprovalRequest, actor: User) -> None:
    fire(overdue, ["expire"], actor=actor)
    _audit("approval.expired", overdue, actor)


def grant(request: ApprovalRequest) -> dict:
    """The ``execute`` of a permit action: approving only records the grant, the run that uses it acts."""
    return {"granted": True}


def check_permit(
    *, request_id: int, action: str, object_type: str = "", object_id: str = ""
) -> ApprovalRequest:
    """The executed, unused and unexpired approval ``request_id`` of ``action`` on that object, else
    ``ApprovalRequired`` (with why). A permit is good until its request's ``expires_at``: asked for,
    approved and used within the action's lifetime."""
    found = ApprovalRequest.objects.filter(
        pk=request_id, action=action, object_type=object_type, object_id=str(object_id)
    ).first()
    return _usable(found, request_id)


def _usable(found: ApprovalRequest | None, request_id: int) -> ApprovalRequest:
    if found is None:
        raise errors.ApprovalRequired(
            _("No approval %(id)s for this action.") % {"id": request_id}, request_id=request_id
        )
    if found.state != ApprovalRequest.State.EXECUTED:
        raise errors.ApprovalRequired(
            _("Approval %(id)s is not granted (state: %(state)s).")
            % {"id": request_id, "state": found.current_state},
            request_id=request_id,
        )
    if found.used_at is not None:
        raise errors.ApprovalRequired(
            _("Approval %(id)s has already been used.") % {"id": request_id}, request_id=request_id
        )
    if found.expires_at <= timezone.now():
        raise errors.ApprovalRequired(
            _("Approval %(id)s has expired: ask again.") % {"id": request_id}, request_id=request_id
        )
    return found


def consume(
    *, request_id: int, action: str, object_type: str = "", object_id: str = "", actor: User = None
) -> ApprovalRequest:
    """Use, once, the permit ``request_id`` (see ``check_permit``), in the caller's transaction, so an
    action that fails afterwards leaves it unused. For actions whose approval is a permit for a later run
    (``--approval ID``): their ``execute`` is ``grant``."""
    if not connection.in_atomic_block:
        raise RuntimeError("consume() runs inside the transaction of the action it permits")
    found = (
        ApprovalRequest.objects.select_for_update(of=("self",))
        .filter(pk=request_id, action=action, object_type=object_type, object_id=str(object_id))
        .first()
    )
    found = _usable(found, request_id)
    found.used_at = timezone.now()
    found.save(update_fields=["used_at"])
    _audit("approval.used", found, actor)
    return found


def _audit(action: str, request: ApprovalRequest, actor: User, **detail: Any) -> None:
    audit_log.append(
        action,
        actor=actor,
        object_type="approval_request",
        object_id=request.pk,
        authority_id=request.authority_id,
        detail={
            "approval_action": request.action,
            "target": f"{request.object_type}:{request.object_id}" if request.object_type else "",
            "state": request.state,
            **detail,
        },
    )
