"""The command's interface: one summary line, progress on stderr only when asked or on a terminal."""

import re
from io import StringIO

import pytest
from django.core.management import call_command

from .conftest import SAMPLE, sample_row, sample_rows

pytestmark = pytest.mark.django_db

SUMMARY = re.compile(r"^imported \d+, updated \d+, unchanged \d+, rejected \d+; reject report: .+\n$")


def test_it_prints_exactly_one_summary_line_with_the_report(write_extraction, tmp_path):
    out, err = StringIO(), StringIO()
    path = write_extraction([*sample_rows(), sample_row(0, profession_code="99")])
    report = tmp_path / "r.csv"
    call_command("import_registry", str(path), reject_report=str(report), stdout=out, stderr=err)
    assert SUMMARY.match(out.getvalue())
    assert out.getvalue() == f"imported 4, updated 0, unchanged 0, rejected 1; reject report: {report}\n"


def test_it_shows_progress_on_stderr_when_asked(capsys):
    out = StringIO()
    call_command("import_registry", str(SAMPLE), progress=True, stdout=out)
    assert "merging activities" in capsys.readouterr().err
    assert SUMMARY.match(out.getvalue())


def test_it_is_quiet_on_stderr_when_not_on_a_terminal(capsys):
    call_command("import_registry", str(SAMPLE), stdout=StringIO())
    assert capsys.readouterr().err == ""
