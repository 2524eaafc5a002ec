import pytest

from registry.codes import PROFESSIONS
from registry.models import Profession, Professional
from registry.routing import authority_for

EXPECTED = {
    "10": "CNOM",
    "21": "CNOP",
    "40": "ONCD",
    "50": "CNOSF",
    "60": "ONI",
    "69": "ONI",
    "70": "CNOMK",
    "80": "CNOPP",
}


@pytest.mark.django_db
@pytest.mark.parametrize("code", [code for code, _ in PROFESSIONS])
def test_rpps_holders_go_to_their_ordre_or_ans(code):
    person = Professional(national_id="810107518424", id_type="8", rpps="10107518424", last_name="X")
    assert authority_for(person, Profession.objects.get(code=code)).code == EXPECTED.get(code, "ANS")


@pytest.mark.django_db
@pytest.mark.parametrize("code", [code for code, _ in PROFESSIONS])
def test_adeli_holders_go_to_ans_whatever_their_profession(code):
    person = Professional(national_id="0016041030", id_type="0", adeli="016041030", last_name="X")
    assert authority_for(person, Profession.objects.get(code=code)).code == "ANS"


@pytest.mark.django_db
def test_structure_staff_go_to_ans():
    person = Professional(national_id="3010780195/0001", id_type="3", last_name="X")
    assert authority_for(person, None).code == "ANS"
