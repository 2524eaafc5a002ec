"""Domain errors of two-person approval, on the platform's one base (``core.errors``)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.errors import DomainError, InvalidInput, NotFound, NotPermitted


class RequestNotFound(NotFound):
    default_message = _("No such approval request.")


class UnknownAction(InvalidInput):
    code = "unknown_action"
    default_message = _("No such approval action.")


class SelfApproval(NotPermitted):
    """The person who asked for an action can never be one of those who approve it."""

    code = "self_approval"
    default_message = _("You asked for this action: another person must decide on it.")


class NotPending(DomainError):
    code = "not_pending"
    status = 409
    default_message = _("This request has already been decided.")


class Expired(DomainError):
    code = "expired"
    status = 409
    default_message = _("This request has expired: ask again.")


class AlreadyDecided(DomainError):
    code = "already_decided"
    status = 409
    default_message = _("You have already decided on this request.")


class AlreadyRequested(DomainError):
    """The same action on the same object is already waiting for approval: decide on that one."""

    code = "already_requested"
    status = 409
    default_message = _("The same action is already waiting for approval.")


class ApprovalRequired(DomainError):
    """A sensitive action attempted without (a valid) approval: the entry point tells how to get one."""

    code = "approval_required"
    status = 403
    default_message = _("This action needs the approval of a second person.")
