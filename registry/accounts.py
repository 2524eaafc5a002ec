"""Platform accounts managed by a superuser (the admin): who a person is on the platform (role, and the
professional, structure or authority the role acts for). Every creation and change is audited.

The role decides the links: a holder is a professional, a structure manager has a structure, an Ordre
operator an authority (an Ordre, or ANS for the professions ANS registers); an ANS operator's scope is
ANS's whatever the row says, so it has no authority but ANS's (or none); an auditor has none.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext as _

from audit import log
from core.roles import Role

from .models import Account, Authority, Professional, Structure

LINKS = ("professional", "structure", "authority")
# Each role's required link, and the links it may have.
REQUIRED: dict[str, str] = {
    Role.HOLDER: "professional",
    Role.STRUCTURE_MANAGER: "structure",
    Role.AUTHORITY_OPERATOR: "authority",
}
ALLOWED: dict[str, set[str]] = {
    Role.HOLDER: {"professional"},
    Role.STRUCTURE_MANAGER: {"structure"},
    Role.AUTHORITY_OPERATOR: {"authority"},
    Role.ANS_OPERATOR: {"authority"},
    Role.AUDITOR: set(),
    Role.SYSTEM: set(),
}


def account_link_errors(
    *,
    role: str,
    professional: Professional | None = None,
    structure: Structure | None = None,
    authority: Authority | None = None,
) -> dict[str, str]:
    """What is wrong with these links for ``role``, per field (empty: they fit)."""
    links = {"professional": professional, "structure": structure, "authority": authority}
    errors: dict[str, str] = {}
    required = REQUIRED.get(role)
    if required and links[required] is None:
        errors[required] = _("This role needs one.")
    for name, value in links.items():
        if value is not None and name not in ALLOWED.get(role, set()):
            errors[name] = _("This role has none.")
    if role == Role.ANS_OPERATOR and authority is not None and authority.kind != Authority.Kind.ANS:
        errors["authority"] = _("An ANS operator acts for ANS, not for an Ordre.")
    return errors


def _detail(account: Account) -> dict[str, Any]:
    return {
        "username": account.user.get_username(),
        "role": account.role,
        "professional_id": account.professional_id,
        "structure_id": account.structure_id,
        "authority_id": account.authority_id,
        "active": account.user.is_active,
    }


def account_create(
    *,
    username: str,
    email: str,
    password: str | None,
    role: str,
    actor: Any,
    professional: Professional | None = None,
    structure: Structure | None = None,
    authority: Authority | None = None,
) -> Account:
    """A new user and their account. ``password`` None: the user cannot sign in until one is set (a
    password reset link)."""
    with transaction.atomic():
        user = get_user_model().objects.create_user(username=username, email=email, password=password)
        account = Account.objects.create(
            user=user, role=role, professional=professional, structure=structure, authority=authority
        )
        log.append(
            "account.created",
            actor=actor,
            object_type="account",
            object_id=account.pk,
            authority_id=account.authority_id,
            detail=_detail(account),
        )
    return account


def account_update(*, account: Account, actor: Any, before: dict[str, Any] | None = None) -> Account:
    """Save the changes made to ``account`` (and its user's e-mail and active flag), audited with what they
    were (``before``: ``account_snapshot`` taken before the change)."""
    with transaction.atomic():
        account.user.save(update_fields=["email", "is_active"])
        account.save()
        after = _detail(account)
        changes = {key: [(before or {}).get(key), value] for key, value in after.items()}
        changes = {key: pair for key, pair in changes.items() if pair[0] != pair[1]}
        if changes:
            log.append(
                "account.changed",
                actor=actor,
                object_type="account",
                object_id=account.pk,
                authority_id=account.authority_id,
                detail={"changes": changes},
            )
    return account


def account_snapshot(account: Account) -> dict[str, Any]:
    return _detail(Account.objects.select_related("user").get(pk=account.pk))
