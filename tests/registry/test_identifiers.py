import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.identifiers import (
    check_adeli,
    check_finess,
    check_national_id,
    check_rpps,
    check_siren,
    check_siret,
    luhn_complete,
    luhn_valid,
)


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (check_rpps, "10107518424"),
        (check_adeli, "016041030"),
        (check_finess, "010780195"),
        (check_siret, "77220148900022"),
        (check_siren, "772201489"),
    ],
)
def test_it_accepts_the_worked_examples(check, value):
    assert check(value) is None


def test_it_accepts_the_worked_national_identifier():
    assert check_national_id("810107518424") is None
    assert check_national_id("0016041030") is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("10107518425", "check digit"),
        ("1010751842", "11 digits"),
        ("1010751842X", "digits only"),
        ("", "missing"),
    ],
)
def test_it_rejects_bad_rpps_with_the_rule_broken(value, reason):
    assert reason in check_rpps(value)


def test_it_rejects_a_type_digit_that_does_not_match_the_number():
    assert "type digit" in check_national_id("910107518424")
    assert "does not match" in check_national_id("810107518424", id_type="0")
    assert check_national_id("0101075184", id_type="0") is not None


def test_structure_staff_identifiers_need_an_internal_number():
    assert check_national_id("3010780195") is not None
    assert check_national_id("3010780195/0001") is None
    assert check_national_id("577220148900022/12") is None


@given(st.text(alphabet="0123456789", min_size=1, max_size=20))
def test_luhn_complete_always_yields_a_valid_number(partial):
    assert luhn_valid(luhn_complete(partial))


@given(st.text(alphabet="0123456789", min_size=10, max_size=10), st.integers(0, 9), st.integers(1, 9))
def test_changing_one_digit_of_a_valid_rpps_breaks_it(prefix, position, delta):
    rpps = luhn_complete(prefix)
    digits = list(rpps)
    digits[position] = str((int(digits[position]) + delta) % 10)
    assert check_rpps("".join(digits)) is not None


@given(st.text(alphabet="0123456789", min_size=13, max_size=13))
def test_every_completed_siret_is_valid(prefix):
    assert check_siret(luhn_complete(prefix)) is None


@given(st.text(min_size=0, max_size=15))
def test_arbitrary_text_never_crashes_the_checks(value):
    for check in (check_rpps, check_adeli, check_finess, check_siren, check_siret):
        result = check(value)
        assert result is None or isinstance(result, str)
    assert check_national_id(value) is None or isinstance(check_national_id(value), str)
