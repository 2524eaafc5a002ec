"""What the audit log records by itself, from Django's signals: the back office's sign-ins, and changes of
a user's superuser or staff flag (the admin's keys). Operator role changes are recorded by the registry,
which owns the accounts (``registry.account_audit``); everything else by the service that acts."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_save, pre_save

from core.roles import BACK_OFFICE, role_of

from . import log

FLAGS = ("is_superuser", "is_staff", "is_active")


def connect() -> None:
    user_model = get_user_model()
    user_logged_in.connect(operator_signed_in, dispatch_uid="audit_operator_signed_in")
    pre_save.connect(_remember_flags, sender=user_model, dispatch_uid="audit_user_flags_before")
    post_save.connect(user_flags_changed, sender=user_model, dispatch_uid="audit_user_flags_after")


def operator_signed_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """An operator, an auditor or a superuser signed in (holders and structure managers are not logged)."""
    role = role_of(user)
    if role not in BACK_OFFICE and not user.is_superuser:
        return
    meta = getattr(request, "META", {}) if request is not None else {}
    log.append(
        "operator.signed_in",
        actor=user,
        object_type="user",
        object_id=user.pk,
        authority_id=getattr(getattr(user, "account", None), "authority_id", None),
        detail={"role": role or "", "superuser": user.is_superuser, "ip": meta.get("REMOTE_ADDR", "")},
    )


def _flags(user: Any) -> dict[str, bool]:
    return {flag: bool(getattr(user, flag)) for flag in FLAGS}


def _remember_flags(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    # A save naming its fields (last_login at each sign-in) and touching no flag costs no extra query.
    if update_fields is not None and not set(update_fields) & set(FLAGS):
        return
    if instance.pk is None:
        instance._audit_flags_before = None
        return
    before = sender.objects.filter(pk=instance.pk).values(*FLAGS).first()
    instance._audit_flags_before = before


def user_flags_changed(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """A superuser made, or a user's superuser, staff or active flag changed on a superuser or staff user."""
    if not hasattr(instance, "_audit_flags_before"):
        return
    before = instance.__dict__.pop("_audit_flags_before")
    after = _flags(instance)
    if created or before is None:
        if not (after["is_superuser"] or after["is_staff"]):
            return
        changed = {flag: [None, value] for flag, value in after.items()}
    else:
        changed = {flag: [before[flag], after[flag]] for flag in FLAGS if before[flag] != after[flag]}
        if not changed or not (
            before["is_superuser"] or before["is_staff"] or after["is_superuser"] or after["is_staff"]
        ):
            return
    log.append(
        "operator.role_changed",
        object_type="user",
        object_id=instance.pk,
        detail={"user": instance.get_username(), "created": created, "flags": changed},
    )
