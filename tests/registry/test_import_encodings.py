"""Every published form of the file reads the same: UTF-8 with or without BOM, Windows-1252, ISO-8859-1,
CRLF or LF, header with or without its trailing ``|``, plain or zipped."""

import zipfile

import pytest

from registry.models import Exercise, Professional, Structure
from registry.services import registry_import

from .conftest import DOCTOR, OPTICIAN, extraction_text, sample_row, sample_rows

pytestmark = pytest.mark.django_db

ENCODINGS = [
    ("utf-8", "utf-8"),
    ("utf-8-sig", "utf-8-sig"),
    ("cp1252", "iso-8859-1"),
    ("latin-1", "iso-8859-1"),
]


def assert_sample_read_right():
    assert Professional.objects.get(national_id=OPTICIAN).first_name == "Amélie"
    assert Exercise.objects.get(professional__national_id=OPTICIAN).profession.label == "Opticien-Lunetier"
    assert Professional.objects.count() == 3


@pytest.mark.parametrize(("encoding", "label"), ENCODINGS)
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("trailing_pipe", [True, False])
def test_it_reads_every_encoding_line_end_and_header_form(
    write_extraction, encoding, label, newline, trailing_pipe
):
    header = extraction_text([]).splitlines()[0]
    path = write_extraction(
        encoding=encoding,
        newline=newline,
        trailing_pipe=trailing_pipe,
        header=header if trailing_pipe else header.rstrip("|"),
    )
    result = registry_import(path=path)
    assert (result.imported, result.rejected, result.encoding) == (4, 0, label)
    assert_sample_read_right()


def test_it_says_cp1252_when_a_byte_only_windows_1252_has_is_seen(write_extraction):
    rows = [
        *sample_rows(),
        sample_row(2, national_id="810002718285", identifier="10002718285", last_name="SŒUR"),
    ]
    result = registry_import(path=write_extraction(rows, encoding="cp1252"))
    assert result.encoding == "cp1252"
    assert Professional.objects.get(national_id="810002718285").last_name == "SŒUR"


def test_it_switches_to_a_single_byte_encoding_after_ascii_lines(write_extraction):
    # The first accented character comes late, after plain ASCII rows: no line is read twice.
    ascii_header = extraction_text([]).splitlines()[0]
    rows = [sample_row(2), sample_row(3, first_name="Amélie")]
    path = write_extraction(rows, encoding="latin-1", header=ascii_header)
    assert registry_import(path=path).encoding == "iso-8859-1"
    assert Professional.objects.get(national_id=OPTICIAN).first_name == "Amélie"


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_it_reads_a_zip_as_published(tmp_path, encoding):
    path = tmp_path / "PS_LibreAcces_Personne_activite_202611260000.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "PS_LibreAcces_Personne_activite_202611260000.txt",
            extraction_text(sample_rows()).encode(encoding),
        )
    result = registry_import(path=path)
    assert (result.imported, result.rejected) == (4, 0)
    assert_sample_read_right()


def test_it_keeps_backslashes_and_pipes_out_of_the_copy_format(write_extraction):
    rows = [sample_row(0, name="CABINET C:\\MARTIN\\N", trade_name="TAB\tHERE")]
    registry_import(path=write_extraction(rows))
    structure = Structure.objects.get()
    # (a tab is whitespace: cleaned to a space at staging, see test_import_cleaning)
    assert (structure.name, structure.trade_name) == ("CABINET C:\\MARTIN\\N", "TAB HERE")
    assert Professional.objects.get().national_id == DOCTOR
