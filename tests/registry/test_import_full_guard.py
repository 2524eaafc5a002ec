"""The --full safety guard: a "full" file that would strike off more than CPX_IMPORT_MAX_DEACTIVATION_SHARE
(default 5%) of the active registry (a truncated or partial file) is refused as a whole unless forced."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from registry.identifiers import luhn_complete
from registry.models import Professional, RegistryImport
from registry.services import registry_import
from registry.textfile import FileRefused
from tests.approvals.helpers import forced_import_approval

from .conftest import registry_snapshot, sample_row, sample_rows

pytestmark = pytest.mark.django_db


def many_people(count: int) -> list[list[str]]:
    """``count`` nurses by RPPS, one row each, plus the sample's rows."""
    rows = sample_rows()
    for number in range(count):
        rpps = luhn_complete(f"1000{number:06d}")
        rows.append(sample_row(2, identifier=rpps, national_id="8" + rpps))
    return rows


def test_a_full_file_that_would_strike_off_most_of_the_registry_is_refused(write_extraction):
    registry_import(path=write_extraction(many_people(30)))  # 33 active professionals
    before = registry_snapshot()
    with pytest.raises(FileRefused) as refused:
        registry_import(path=write_extraction(sample_rows()[:3]), full=True)  # 31 of 33 would go
    message = str(refused.value)
    assert "would deactivate 31 of the 33 active professionals" in message
    assert "CPX_IMPORT_MAX_DEACTIVATION_SHARE" in message and "--force" in message
    assert registry_snapshot() == before
    assert Professional.objects.filter(is_active=True).count() == 33
    run = RegistryImport.objects.order_by("-pk").first()
    assert run.status == "refused" and "would deactivate 31" in run.error


def test_the_command_refuses_it_too_and_names_the_option(write_extraction):
    registry_import(path=write_extraction(many_people(30)))
    path = write_extraction(sample_rows()[:3])
    with pytest.raises(CommandError, match=r"refused: .*31 of the 33 .*--force"):
        call_command("import_registry", str(path), full=True, stdout=StringIO())
    assert Professional.objects.filter(is_active=True).count() == 33


def test_force_applies_it(write_extraction):
    registry_import(path=write_extraction(many_people(30)))
    out = StringIO()
    path = write_extraction(sample_rows()[:3])
    approval = forced_import_approval(path)  # a second ANS operator approved forcing this file
    call_command("import_registry", str(path), full=True, force=True, approval=approval, stdout=out)
    assert "deactivated 31" in out.getvalue()
    assert Professional.objects.filter(is_active=True).count() == 2


def test_force_through_the_service(write_extraction):
    registry_import(path=write_extraction(many_people(30)))
    path = write_extraction(sample_rows()[:3])
    result = registry_import(path=path, full=True, force=True, approval_id=forced_import_approval(path))
    assert result.deactivated == 31


def test_a_deactivation_within_the_share_goes_through(write_extraction):
    registry_import(path=write_extraction(many_people(30)))  # 33 active: 5% allows one
    rows = many_people(30)
    rows.pop()  # the last nurse has left
    result = registry_import(path=write_extraction(rows), full=True)
    assert result.deactivated == 1


def test_the_share_is_a_setting(write_extraction, settings):
    settings.CPX_IMPORT_MAX_DEACTIVATION_SHARE = 0.5
    registry_import(path=write_extraction())
    result = registry_import(path=write_extraction(sample_rows()[:3]), full=True)  # 1 of 3
    assert result.deactivated == 1
    settings.CPX_IMPORT_MAX_DEACTIVATION_SHARE = 0.2
    registry_import(path=write_extraction())
    with pytest.raises(FileRefused, match="1 of the 3 active professionals"):
        registry_import(path=write_extraction(sample_rows()[:3]), full=True)
