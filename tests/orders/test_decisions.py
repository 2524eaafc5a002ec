"""Why an order the registry drove was placed or proposed, as its pages say it (orders.decisions)."""

from __future__ import annotations

import pytest
from django.utils import translation

from orders.decisions import ABSENT, Row, decision_text, situation_rows


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


FIRST = {
    "rule": "first",
    "mode": "automatic",
    "approved": True,
    "authority": "Conseil national de l'Ordre des médecins",
    "registered_on": "2026-11-30",
    "file": "PS_LibreAcces_Personne_activite_202611300000.txt",
    "run": 12,
}


def test_a_first_card_created_and_approved_at_once():
    assert decision_text(FIRST) == (
        "Created automatically: registered on 30 November 2026 with Conseil national de l'Ordre des "
        "médecins (file PS_LibreAcces_Personne_activite_202611300000.txt, import 12). "
        "Approved at once: no review was needed."
    )


def test_a_first_card_waiting_for_review():
    text = decision_text({**FIRST, "approved": False})
    assert text.endswith("Waiting for review by Conseil national de l'Ordre des médecins.")


def test_a_first_card_proposed_without_a_file():
    text = decision_text(
        {
            "rule": "training",
            "mode": "proposed",
            "approved": False,
            "authority": "ANS",
            "registered_on": "2026-11-30",
        }
    )
    assert text == (
        "Proposed to you: registered on 30 November 2026 with ANS. "
        "Nothing is ordered until you confirm it; you may also decline it."
    )


def test_a_renewal_proposed():
    decision = {
        "rule": "renewal",
        "mode": "proposed",
        "card_number": "8025000001/0001",
        "expires_on": "2027-01-31",
        "authority": "ANS",
    }
    assert decision_text(decision).startswith(
        "Proposed to you: your card 8025000001/0001 expires on 31 January 2027."
    )


def test_an_update_created_automatically():
    decision = {"rule": "update", "mode": "automatic", "approved": True, "card_number": "8025"}
    assert decision_text(decision) == (
        "Created automatically: your situation in the registry no longer matches your card. "
        "Approved at once: no review was needed."
    )


@pytest.mark.parametrize("decision", [{}, {"mode": "automatic"}, None, "first", []])
def test_a_person_s_order_has_no_explanation(decision):
    assert decision_text(decision) == ""  # type: ignore[arg-type]


def test_a_malformed_date_is_shown_as_it_is():
    text = decision_text(
        {**FIRST, "registered_on": "yesterday", "authority": None, "file": None, "run": None}
    )
    assert text.startswith(f"Created automatically: registered on yesterday with {ABSENT}.")


def test_french():
    with translation.override("fr"):
        text = decision_text(FIRST)
    assert "novembre 2026" in text


# --- the side-by-side table -------------------------------------------------------------------------------

CLINIC = {
    "mode": "S",
    "sector": "SA07",
    "structure_id": "R10000001",
    "siret": "11111111100011",
    "finess": "750000001",
    "structure_name": "Clinique du Parc",
}
CABINET = {
    "mode": "L",
    "sector": "SA01",
    "structure_id": "R20000002",
    "siret": "22222222200022",
    "finess": "",
    "structure_name": "Cabinet Voltaire",
}
HOSPITAL = {
    "mode": "S",
    "sector": "SA02",
    "structure_id": "R30000003",
    "siret": "33333333300033",
    "finess": "750000003",
    "structure_name": "Hôpital Nord",
}


def by_group(rows: list[Row]) -> dict[str, dict[str, Row]]:
    groups: dict[str, dict[str, Row]] = {}
    for row in rows:
        groups.setdefault(row.group, {})[row.label] = row
    return groups


def test_situations_pair_by_structure_and_mark_what_differs():
    diff = {
        "on_card": [CLINIC, CABINET],
        "in_registry": [HOSPITAL, {**CLINIC, "sector": "SA09"}],
    }
    groups = by_group(situation_rows(diff))
    assert list(groups) == ["Clinique du Parc", "Cabinet Voltaire", "Hôpital Nord"]
    clinic = groups["Clinique du Parc"]
    assert clinic["Sector"][:4] == ("Sector", "SA07", "SA09", True)
    assert clinic["SIRET"].differs is False and clinic["SIRET"].on_card == "11111111100011"
    cabinet = groups["Cabinet Voltaire"]  # left the registry: nothing on the right
    assert cabinet["Structure"][:4] == ("Structure", "Cabinet Voltaire", ABSENT, True)
    assert cabinet["FINESS"][:4] == ("FINESS", ABSENT, ABSENT, False)  # empty on both sides
    hospital = groups["Hôpital Nord"]  # new in the registry: nothing on the card
    assert hospital["Structure identifier"][:4] == ("Structure identifier", ABSENT, "R30000003", True)


def test_the_profession_comes_first():
    diff = {
        "on_card": [CLINIC],
        "in_registry": [CLINIC],
        "profession_on_card": {"code": "10", "label": "Médecin", "category": "C", "skill": "SM26"},
        "profession_in_registry": {"code": "10", "label": "Médecin", "category": "C", "skill": "SM54"},
    }
    rows = situation_rows(diff)
    assert rows[0][:3] == ("Profession", "Médecin", "Médecin") and rows[0].group == ""
    assert [r.label for r in rows if r.differs] == ["Specialty"]


def test_a_situation_s_own_profession_is_compared_too():
    diff = {
        "on_card": [{**CLINIC, "profession": {"code": "10", "label": "Médecin"}}],
        "in_registry": [{**CLINIC, "profession": {"code": "21", "label": "Pharmacien"}}],
    }
    changed = [r for r in situation_rows(diff) if r.differs]
    assert [(r.label, r.on_card, r.in_registry, r.group) for r in changed] == [
        ("Profession", "Médecin", "Pharmacien", "Clinique du Parc")
    ]


def test_situations_without_a_structure_pair_in_turn():
    diff = {"on_card": [{"mode": "L", "sector": "SA01"}], "in_registry": [{"mode": "S", "sector": "SA01"}]}
    rows = situation_rows(diff)
    assert {r.group for r in rows} == {"Without a structure"}
    assert [r.label for r in rows if r.differs] == ["Mode of practice"]


@pytest.mark.parametrize("diff", [{}, None, {"on_card": None, "in_registry": "x"}, {"on_card": [1, "a"]}])
def test_nothing_to_compare_is_no_row(diff):
    assert situation_rows(diff) == []  # type: ignore[arg-type]
