"""The issuance policies page (issue 16): an Ordre's or ANS's operators choose, per event the registry
reports and card type, whether the platform issues nothing, proposes the card or orders it (approved at
once or reviewed), for the whole authority or one profession. The auditor reads every authority's.
The rules are ``lifecycle.policies``'s; this page shows them and posts one row at a time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from core.roles import Role
from core.web import for_roles
from lifecycle import policies
from lifecycle.models import IssuancePolicy
from portal.forms_policies import PolicyForm
from registry.models import Account, Authority, CardType

EDITORS = (Role.AUTHORITY_OPERATOR, Role.ANS_OPERATOR)
Trigger = IssuancePolicy.Trigger


@dataclass
class TriggerTable:
    """One table of the page: a trigger, its rows (each card type's, then its professions'), and the
    card types a profession may get its own row for."""

    trigger: str
    label: str
    rows: list[IssuancePolicy] = field(default_factory=list)
    card_types: list[tuple[str, str]] = field(default_factory=list)


@for_roles(*EDITORS, Role.AUDITOR)
def policies_page(request: HttpRequest, account: Account) -> HttpResponse:
    if request.method == "POST":
        return policy_post(request)
    editable = account.role in EDITORS
    rows = list(policies.policies_for(request.user))
    authorities = [policies.policy_authority(request.user)] if editable else _authorities_of(rows)
    context: dict[str, Any] = {
        "editable": editable,
        "sections": [_section(authority, rows) for authority in authorities],
        "modes": IssuancePolicy.Mode.choices,
        "professions": list(policies.policy_professions(authorities[0])) if editable else [],
    }
    return render(request, "portal/policies.html", context)


def policy_post(request: HttpRequest) -> HttpResponse:
    """One row saved (or, for a profession's, removed); a refusal is told on the page (core.web)."""
    policies.policy_authority(request.user)  # who first: the auditor reads, and posts nothing
    form = PolicyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The policy was not saved: %(errors)s") % {"errors": _errors(form)})
        return redirect("portal:policies")
    data = form.cleaned_data
    key = {"card_type": data["card_type"], "trigger": data["trigger"]}
    profession = data["profession"] or None
    if data["action"] == "remove" and profession:
        policies.policy_remove(actor=request.user, **key, profession_code=profession)
        messages.success(request, _("The profession now follows the authority's policy."))
    else:
        policies.policy_set(
            actor=request.user, **key, mode=data["mode"], approve=data["approve"], profession_code=profession
        )
        messages.success(request, _("The issuance policy is saved."))
    return redirect("portal:policies")


def _errors(form: PolicyForm) -> str:
    return " ".join(str(message) for errors in form.errors.values() for message in errors)


def _authorities_of(rows: list[IssuancePolicy]) -> list[Authority]:
    seen: dict[int, Authority] = {}
    for row in rows:
        seen.setdefault(row.authority_id, row.authority)
    return list(seen.values())


def _section(authority: Authority, rows: list[IssuancePolicy]) -> dict[str, Any]:
    """The authority's tables, one per trigger: each card type's row (its default when the row is missing,
    for an authority created without them), each followed by its professions' own rows."""
    mine = [row for row in rows if row.authority_id == authority.pk]
    labels = dict(CardType.choices)
    tables = {t: TriggerTable(t, str(label)) for t, label in Trigger.choices}
    for trigger, card_type in policies.policy_combinations(authority):
        table = tables[trigger]
        table.card_types.append((card_type, str(labels[card_type])))
        table.rows.append(_authority_row(authority, mine, card_type, trigger))
        table.rows += [
            r for r in mine if (r.trigger, r.card_type) == (trigger, card_type) and r.profession_id
        ]
    return {"authority": authority, "tables": [t for t in tables.values() if t.rows]}


def _authority_row(
    authority: Authority, rows: list[IssuancePolicy], card_type: str, trigger: str
) -> IssuancePolicy:
    for row in rows:
        if (row.trigger, row.card_type, row.profession_id) == (trigger, card_type, None):
            return row
    default = policies.default_for(authority_kind=authority.kind, card_type=card_type, trigger=trigger)
    return IssuancePolicy(
        authority=authority, card_type=card_type, trigger=trigger, mode=default.mode, approve=default.approve
    )
