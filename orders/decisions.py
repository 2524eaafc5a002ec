"""Why the platform placed or proposed an order (issue 16), told to the people who read it.

An order the registry drives carries its ``decision`` as data (rule, mode, approval, authority, the
extraction file and import run, the replaced card) and, for an update, its ``situation_diff`` (what the card
carries beside what the registry says now). This module turns both into what the order's pages show:
``decision_text`` the sentences, ``situation_rows`` the side-by-side table. Pure functions: no query.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

ABSENT = "—"


def decision_text(decision: dict[str, Any]) -> str:
    """The reason and what happens next, in the reader's language; empty for an order a person placed."""
    if not isinstance(decision, dict) or not decision.get("rule"):
        return ""
    reason = _reason(decision)
    follow = _follow_up(decision)
    return f"{reason} {follow}".strip()


def _reason(decision: dict[str, Any]) -> str:
    rule, proposed = decision.get("rule"), decision.get("mode") == "proposed"
    lead = _("Proposed to you:") if proposed else _("Created automatically:")
    if rule == "renewal":
        because = _("your card %(card_number)s expires on %(expires_on)s.") % {
            "card_number": decision.get("card_number") or ABSENT,
            "expires_on": _day(decision.get("expires_on")),
        }
    elif rule == "update":
        because = _("your situation in the registry no longer matches your card.")
    else:
        because = _registered(decision)
    return f"{lead} {because}"


def _registered(decision: dict[str, Any]) -> str:
    """A first card or a student's CPF: registered with the authority, as read from an extraction."""
    values = {
        "registered_on": _day(decision.get("registered_on")),
        "authority": decision.get("authority") or ABSENT,
        "file": decision.get("file") or ABSENT,
        "run": decision.get("run") or ABSENT,
    }
    if decision.get("file") or decision.get("run"):
        text = _("registered on %(registered_on)s with %(authority)s (file %(file)s, import %(run)s).")
        return text % values
    return _("registered on %(registered_on)s with %(authority)s.") % values


def _follow_up(decision: dict[str, Any]) -> str:
    if decision.get("mode") == "proposed":
        return _("Nothing is ordered until you confirm it; you may also decline it.")
    if decision.get("approved"):
        return _("Approved at once: no review was needed.")
    authority = decision.get("authority")
    if authority:
        return _("Waiting for review by %(authority)s.") % {"authority": authority}
    return _("Waiting for review.")


def _day(value: Any) -> str:
    """An ISO date as the portal writes dates (``30 novembre 2026``); anything else as it is."""
    if not isinstance(value, str) or not value:
        return ABSENT
    try:
        return date_format(dt.date.fromisoformat(value[:10]), "j F Y")
    except ValueError:
        return value


# --- the difference between the card and the registry ------------------------------------------------------


class Row(NamedTuple):
    """One line of the table "On the card / In the registry". ``differs`` marks the two cells."""

    label: str
    on_card: str
    in_registry: str
    differs: bool = False
    group: str = ""  # the situation the line belongs to (its structure), empty for the profession


SITUATION_FIELDS = (
    ("structure_name", gettext_lazy("Structure")),
    ("structure_id", gettext_lazy("Structure identifier")),
    ("siret", gettext_lazy("SIRET")),
    ("finess", gettext_lazy("FINESS")),
    ("postcode", gettext_lazy("Postcode")),
    ("commune", gettext_lazy("Town")),
    ("mode", gettext_lazy("Mode of practice")),
    ("sector", gettext_lazy("Sector")),
)
PROFESSION_FIELDS = (
    ("label", gettext_lazy("Profession")),
    ("category", gettext_lazy("Category")),
    ("skill", gettext_lazy("Specialty")),
)


def situation_rows(diff: dict[str, Any]) -> list[Row]:
    """The table's lines: the profession first, then each situation paired with the registry's one of the
    same structure (``structure_id``; a situation without a structure pairs by its rank among those), one
    line per field, ``—`` where a side has nothing."""
    if not isinstance(diff, dict):
        return []
    rows = _profession_rows(diff.get("profession_on_card"), diff.get("profession_in_registry"))
    for card_side, registry_side in _pairs(_list(diff.get("on_card")), _list(diff.get("in_registry"))):
        rows += _situation_rows(card_side, registry_side)
    return rows


def _profession_rows(on_card: Any, in_registry: Any) -> list[Row]:
    if not isinstance(on_card, dict) and not isinstance(in_registry, dict):
        return []
    on_card, in_registry = _dict(on_card), _dict(in_registry)
    return [_row(label, on_card.get(key), in_registry.get(key)) for key, label in PROFESSION_FIELDS]


def _situation_rows(on_card: dict[str, Any], in_registry: dict[str, Any]) -> list[Row]:
    either = on_card or in_registry
    group = either.get("structure_name") or either.get("structure_id") or _("Without a structure")
    rows = [_row(label, on_card.get(key), in_registry.get(key), group) for key, label in SITUATION_FIELDS]
    profession_card, profession_registry = on_card.get("profession"), in_registry.get("profession")
    if isinstance(profession_card, dict) or isinstance(profession_registry, dict):
        rows += [r._replace(group=group) for r in _profession_rows(profession_card, profession_registry)]
    return rows


def _pairs(
    on_card: list[dict[str, Any]], in_registry: list[dict[str, Any]]
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Situations side by side: same structure together, the card's order first, the registry's new ones
    after; situations without a structure paired in turn."""
    keyed = {s["structure_id"]: s for s in in_registry if s.get("structure_id")}
    loose = [s for s in in_registry if not s.get("structure_id")]
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for situation in on_card:
        key = situation.get("structure_id")
        match = keyed.pop(key, {}) if key else (loose.pop(0) if loose else {})
        pairs.append((situation, match))
    pairs += [({}, s) for s in keyed.values()]
    pairs += [({}, s) for s in loose]
    return pairs


def _row(label: Any, on_card: Any, in_registry: Any, group: str = "") -> Row:
    left, right = _text(on_card), _text(in_registry)
    return Row(str(label), left, right, left != right, str(group))


def _text(value: Any) -> str:
    return ABSENT if value in (None, "") else str(value)


def _list(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
