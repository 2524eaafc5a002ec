"""The directory's search: accents and case ignored (unaccent, trigram index), identifiers, card numbers,
the sort, the count and pagination of the page, and the operator's scope."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from cards.search import directory
from registry.models import Professional
from registry.search import directory_search
from tests.factories import CardFactory, ExerciseFactory

pytestmark = pytest.mark.django_db


def names(people) -> list[str]:
    return [f"{p.last_name} {p.first_name}" for p in people]


@pytest.fixture
def doctors():
    made = {}
    for last, first in [("ÉTIENNE", "Hélène"), ("Durand", "Helene"), ("Zola", "Émile"), ("Ebert", "Anne")]:
        made[first] = ExerciseFactory(
            profession_id="10", professional__last_name=last, professional__first_name=first
        ).professional
    return made


def test_the_migration_installed_the_extensions_and_the_trigram_index():
    with connection.cursor() as cursor:
        cursor.execute("SELECT extname FROM pg_extension WHERE extname IN ('unaccent', 'pg_trgm')")
        assert sorted(row[0] for row in cursor.fetchall()) == ["pg_trgm", "unaccent"]
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'registry_professional_name_trgm'")
        assert "gin_trgm_ops" in cursor.fetchone()[0]


def test_a_name_is_found_without_regard_to_accents_or_case(doctors):
    found = names(directory_search(people=Professional.objects.all(), text="helene"))
    assert found == ["Durand Helene", "ÉTIENNE Hélène"]
    assert names(directory_search(people=Professional.objects.all(), text="HÉLÈNE étienne")) == [
        "ÉTIENNE Hélène"
    ]


def test_the_sort_ignores_accents(doctors):
    found = names(directory_search(people=Professional.objects.all()))
    # É sorts with E (between Durand and Zola), not after Z.
    assert found == ["Durand Helene", "Ebert Anne", "ÉTIENNE Hélène", "Zola Émile"]
    assert names(directory_search(people=Professional.objects.all(), sort="-name"))[0] == "Zola Émile"


def test_identifiers_are_found_exactly(doctors):
    person = doctors["Émile"]
    assert list(directory_search(people=Professional.objects.all(), text=person.rpps)) == [person]
    assert list(directory_search(people=Professional.objects.all(), text=person.rpps[:-1])) == []


def test_a_card_number_finds_its_holder():
    card = CardFactory(exercise=ExerciseFactory(profession_id="10"))
    found = list(directory(people=Professional.objects.all(), text=card.display_number))
    assert found == [card.professional]
    assert list(directory(people=Professional.objects.all(), text=card.number)) == [card.professional]


def test_the_professions_come_with_each_person(doctors):
    person = next(iter(directory_search(people=Professional.objects.all(), text="zola")))
    assert [e.profession.code for e in person.directory_exercises] == ["10"]


def test_the_page_counts_paginates_and_stays_in_scope(settings):
    from tests.factories import persona

    settings.LANGUAGE_CODE = "en"
    for n in range(55):
        ExerciseFactory(profession_id="10", professional__last_name=f"Médecin{n:02d}")
    nurse = ExerciseFactory(profession_id="60", professional__last_name="Infirmière").professional
    cnom = persona("authority_operator", authority="CNOM")
    client = Client()
    client.force_login(cnom)
    first = client.get(reverse("portal:bo-holders")).content.decode()
    assert "55 professionals" in first
    assert "fr-pagination" in first and "page=2" in first
    second = client.get(reverse("portal:bo-holders"), {"page": 2}).content.decode()
    assert "MEDECIN54" in second.upper() or "MÉDECIN54" in second
    assert (
        nurse.national_id
        not in client.get(reverse("portal:bo-holders"), {"q": "infirmiere"}).content.decode()
    )
    found = client.get(reverse("portal:bo-holders"), {"q": "medecin07"}).content.decode()
    assert "1 professional found" in found and "MÉDECIN07" in found
