"""A file unusable as a whole is refused with an error naming the file and the problem, and leaves the
registry exactly as it was (the run is still recorded, as refused)."""

import zipfile

import pytest
from django.core.management import CommandError, call_command

from registry.models import RegistryImport
from registry.services import registry_import
from registry.textfile import FileRefused

from .conftest import CORRESPONDENCE, HEADER, extraction_text, registry_snapshot, sample_row, sample_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def registry_before(write_extraction):
    """A registry holding the sample, with one person changed in the file about to be refused."""
    registry_import(path=write_extraction())
    return registry_snapshot()


def changed_rows():
    rows = sample_rows()
    rows[0][7] = rows[1][7] = "CHANGED"  # the doctor, on both rows (one identity per person)
    return rows


def refuse(path, words, registry_before):
    with pytest.raises(CommandError) as caught:
        call_command("import_registry", str(path))
    message = str(caught.value)
    assert str(path) in message and words in message
    assert registry_snapshot() == registry_before
    run = RegistryImport.objects.order_by("-id").first()
    assert run.status == RegistryImport.Status.REFUSED and words in run.error
    return message


def test_it_refuses_an_empty_file(tmp_path, registry_before):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    refuse(path, "the file is empty", registry_before)


def test_it_refuses_a_header_without_rows(tmp_path, registry_before):
    path = tmp_path / "header_only.txt"
    path.write_text(HEADER + "\n")
    refuse(path, "no data rows", registry_before)


def test_it_refuses_a_file_that_is_not_the_format(registry_before):
    refuse(CORRESPONDENCE, "not a PS_LibreAcces_Personne_activite extraction", registry_before)


def test_it_refuses_a_header_with_a_wrong_column(write_extraction, registry_before):
    header = HEADER.replace("Code profession", "Code métier")
    path = write_extraction(changed_rows(), header=header)
    refuse(path, "header column 10 is 'Code métier', expected 'Code profession'", registry_before)


def test_it_refuses_a_file_without_header(write_extraction, registry_before):
    path = write_extraction(changed_rows()[1:], header="|".join(sample_row(0)))
    refuse(path, "line 1: header column 1 is '8'", registry_before)


def test_it_refuses_a_file_truncated_in_the_middle_of_a_line(write_extraction, registry_before):
    path = write_extraction(changed_rows())
    data = path.read_bytes()
    path.write_bytes(data[: data.rindex(b"|R3110")])
    refuse(
        path, "line 5: truncated in the middle of a row (23 of 56 columns and no line end)", registry_before
    )


def test_a_last_line_without_line_end_but_complete_is_read(write_extraction, registry_before):
    path = write_extraction(changed_rows())
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    assert registry_import(path=path).updated == 2


def test_it_refuses_mixed_encodings(write_extraction, registry_before):
    path = write_extraction(changed_rows())
    path.write_bytes(path.read_bytes() + "|".join(sample_row(3, first_name="Zoé")).encode("cp1252") + b"\n")
    refuse(path, "line 6: byte 0xE9 is not UTF-8 although earlier lines are UTF-8", registry_before)


def test_it_refuses_a_binary_file(tmp_path, registry_before):
    path = tmp_path / "extraction.txt"
    path.write_bytes(extraction_text(changed_rows()).encode("utf-16"))
    refuse(path, "NUL bytes: not a text file", registry_before)


def test_it_refuses_a_damaged_zip(tmp_path, registry_before):
    path = tmp_path / "extraction.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("extraction.txt", extraction_text(changed_rows() * 50))
    data = bytearray(path.read_bytes())
    data[200:260] = bytes(60)  # damage the compressed stream
    path.write_bytes(bytes(data))
    refuse(path, "damaged zip archive", registry_before)


def test_it_refuses_a_zip_of_several_files(tmp_path, registry_before):
    path = tmp_path / "extraction.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.txt", extraction_text(changed_rows()))
        archive.writestr("b.txt", extraction_text(changed_rows()))
    refuse(path, "must hold exactly one text file, not 2", registry_before)


def test_it_refuses_a_missing_file(tmp_path, registry_before):
    refuse(tmp_path / "nowhere.txt", "no such file", registry_before)


def test_the_service_raises_file_refused(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(FileRefused, match="empty"):
        registry_import(path=path)


def test_the_command_needs_a_file(registry_before):
    with pytest.raises(CommandError, match="give an extraction FILE"):
        call_command("import_registry")
