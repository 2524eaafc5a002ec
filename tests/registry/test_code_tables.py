import pytest

from registry.codes import AUTHORITIES, PROFESSIONS, sync_code_tables
from registry.models import Authority, Profession


@pytest.mark.django_db
def test_every_profession_of_the_nomenclature_is_loaded():
    assert set(Profession.objects.values_list("code", flat=True)) == {code for code, _ in PROFESSIONS}
    assert Profession.objects.get(code="93").deprecated


@pytest.mark.django_db
def test_sync_is_idempotent():
    sync_code_tables()
    sync_code_tables()
    assert Authority.objects.count() == len(AUTHORITIES)


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_sees_the_code_tables():
    assert Authority.objects.filter(code="ANS").exists()


@pytest.mark.django_db(transaction=True)
def test_the_code_tables_are_back_after_the_previous_flush():
    # Runs after the test above, whose teardown flushed every table.
    assert Profession.objects.get(code="10").authority.code == "CNOM"


@pytest.mark.django_db(transaction=True)
def test_the_2025_tariff_is_back_after_a_flush():
    # Runs after the transactional tests above, whose teardown flushed every table.
    from orders.models import Tariff

    assert Tariff.objects.filter(valid_from="2025-01-01", amount="36.00").exists()
