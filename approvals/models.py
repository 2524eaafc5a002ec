"""Approval requests and their decisions (the use cases are in ``approvals.services``).

A request is one sensitive action asked for by one person (``requested_by``) and carried out only once
``quorum`` other people have approved it. Its state machine::

    pending ──approve──▶ approved ──record_execution──▶ executed
       │                  (both in the transaction of the deciding approval: ``approved`` is never left
       │                   standing, unless an action's execution is deferred)
       ├──reject──▶ rejected      (any one rejection)
       ├──expire──▶ expired       (``expires_at`` passed without quorum)
       └──cancel──▶ cancelled     (withdrawn by its requester)

``authority_id`` is the registry Authority the request concerns, kept as a plain integer: approvals sits
below the registry in the layers, and a request outlives any change to the authorities.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition


def not_the_requester(request: Any, user: Any) -> bool:
    """Nobody decides on their own request (which action may decide is the action's ``may_approve``)."""
    return user is not None and user.pk != request.requested_by_id


def the_requester(request: Any, user: Any) -> bool:
    return user is not None and user.pk == request.requested_by_id


def anyone(request: Any, user: Any) -> bool:
    """Expiry is the clock's doing: the sweep (no actor) or whoever tried to decide too late."""
    return True


def past_expiry(request: Any) -> bool:
    return request.expires_at <= timezone.now()


class ApprovalRequest(ConcurrentTransitionMixin, models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        EXECUTED = "executed", _("Executed")
        REJECTED = "rejected", _("Rejected")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")

    # a registered action, e.g. "orders.fee_waiver"
    action = models.CharField(max_length=64, db_index=True, verbose_name=_("action"))
    # what the approvers read, in one line
    summary = models.CharField(max_length=300, verbose_name=_("summary"))
    payload = models.JSONField(default=dict, blank=True)  # what execute() needs
    authority_id = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=128, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="approval_requests",
        verbose_name=_("requested by"),
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    quorum = models.PositiveSmallIntegerField(default=1)
    state = FSMField(
        default=State.PENDING, choices=State.choices, protected=True, db_index=True, verbose_name=_("state")
    )
    result = models.JSONField(null=True, blank=True)  # what execute() returned
    decided_at = models.DateTimeField(null=True, blank=True)  # when it left ``pending``
    executed_at = models.DateTimeField(null=True, blank=True)
    # For an action whose approval is a permit used by a later run (``services.consume``: a forced import,
    # a CA operation): when it was used. A permit is used once.
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("approval request")
        verbose_name_plural = _("approval requests")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(name="approval_quorum_positive", condition=Q(quorum__gte=1)),
        ]
        indexes = [
            # The expiry sweep and the "waiting for me" lists read only the open requests.
            models.Index(fields=["expires_at"], name="approval_pending", condition=Q(state="pending")),
            models.Index(fields=["action", "object_type", "object_id"], name="approval_target"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} ({self.state})"

    @property
    def is_overdue(self) -> bool:
        return self.state == self.State.PENDING and self.expires_at <= timezone.now()

    @property
    def current_state(self) -> str:
        """The state as the reader should see it: ``expired`` as soon as the expiry has passed, even before
        the sweep (or a late decision) records it."""
        return self.State.EXPIRED if self.is_overdue else self.state

    def get_current_state_display(self) -> str:
        return str(self.State(self.current_state).label)

    @property
    def is_open(self) -> bool:
        """Pending and not yet past its expiry: it can still be decided."""
        return self.state == self.State.PENDING and not self.is_overdue

    # --- state machine (fired by approvals.services through core.transitions.fire, on a locked row) ---

    @transition(field=state, source=State.PENDING, target=State.APPROVED, permission=not_the_requester)
    def approve(self) -> None:
        self.decided_at = timezone.now()

    @transition(field=state, source=State.APPROVED, target=State.EXECUTED, permission=not_the_requester)
    def record_execution(self, result: dict) -> None:
        self.result = result
        self.executed_at = timezone.now()

    @transition(field=state, source=State.PENDING, target=State.REJECTED, permission=not_the_requester)
    def reject(self) -> None:
        self.decided_at = timezone.now()

    @transition(
        field=state,
        source=State.PENDING,
        target=State.EXPIRED,
        permission=anyone,
        conditions=[past_expiry],
    )
    def expire(self) -> None:
        self.decided_at = timezone.now()

    @transition(field=state, source=State.PENDING, target=State.CANCELLED, permission=the_requester)
    def cancel(self) -> None:
        self.decided_at = timezone.now()


class ApprovalDecision(models.Model):
    """One person's approval or rejection of a request: one per person (the quorum counts people)."""

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="decisions")
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("approver")
    )
    approve = models.BooleanField(verbose_name=_("approve"))
    comment = models.TextField(blank=True, max_length=2000, verbose_name=_("comment"))
    at = models.DateTimeField(default=timezone.now, verbose_name=_("at"))

    class Meta:
        verbose_name = _("approval decision")
        verbose_name_plural = _("approval decisions")
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "approver"], name="approval_decision_once"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {'approve' if self.approve else 'reject'} by {self.approver_id}"
