"""Operator role changes into the audit log (``operator.role_changed``).

An account's role and authority change in the admin, in a shell or a setup command, not through a service:
the record is therefore made on the model's signals (connected in ``RegistryConfig.ready``), comparing the
row before and after the save, in the save's transaction. Every change in which the role before or after is
not a holder-side one (an operator, the auditor, the platform's system account) is recorded, and so are the
creation and the deletion of such an account. (A queryset ``update()`` sends no signal: nothing in the
platform changes roles that way.)
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save, pre_save

from audit import log
from core.roles import HOLDER_SIDE

from .models import Account


def connect() -> None:
    pre_save.connect(_remember, sender=Account, dispatch_uid="registry_account_role_before")
    post_save.connect(account_saved, sender=Account, dispatch_uid="registry_account_role_after")
    post_delete.connect(account_deleted, sender=Account, dispatch_uid="registry_account_role_deleted")


def _state(role: str | None, authority_id: int | None) -> dict[str, Any]:
    return {"role": role, "authority_id": authority_id}


def _remember(sender: Any, instance: Account, **kwargs: Any) -> None:
    before = None
    if instance.pk is not None:
        row = Account.objects.filter(pk=instance.pk).values_list("role", "authority_id").first()
        before = _state(*row) if row is not None else None
    instance._role_before = before  # type: ignore[attr-defined]


def _privileged(state: dict[str, Any] | None) -> bool:
    return state is not None and state["role"] not in HOLDER_SIDE


def _record(account: Account, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    if before == after or not (_privileged(before) or _privileged(after)):
        return
    log.append(
        "operator.role_changed",
        object_type="account",
        object_id=account.pk,
        authority_id=(after or before or {}).get("authority_id"),
        detail={
            "user": account.user.get_username(),
            "user_id": account.user_id,
            "before": before,
            "after": after,
        },
    )


def account_saved(sender: Any, instance: Account, created: bool, **kwargs: Any) -> None:
    before = instance.__dict__.pop("_role_before", None)
    _record(instance, None if created else before, _state(instance.role, instance.authority_id))


def account_deleted(sender: Any, instance: Account, **kwargs: Any) -> None:
    _record(instance, _state(instance.role, instance.authority_id), None)
