"""make_registry_sample writes the official format; importing it rejects exactly the bad rows it wrote."""

from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command

from registry.codes import PROFESSIONS
from registry.models import Activity, Exercise, Professional
from registry.sample import BAD_KINDS, registry_sample_write
from registry.services import registry_import

from .conftest import HEADER, read_report

pytestmark = pytest.mark.django_db


def test_its_file_imports_with_exactly_the_bad_rows_rejected(tmp_path):
    path = tmp_path / "sample.txt"
    stats = registry_sample_write(out=path, rows=3000, bad_share=0.05, seed=7)
    assert set(stats.bad_kinds) == set(BAD_KINDS) and stats.bad == sum(stats.bad_kinds.values())
    report = tmp_path / "rejects.csv"
    result = registry_import(path=path, reject_report=report)
    assert result.rows == 3000 and result.rejected == stats.bad
    assert result.imported == 3000 - stats.bad
    rules = Counter(row["column"] for row in read_report(report))
    assert rules["10 Code profession"] == stats.bad_kinds["profession"]
    assert rules["20 Numéro SIRET site"] == stats.bad_kinds["siret_key"]
    assert registry_import(path=path).unchanged == 3000 - stats.bad


def test_its_file_is_realistic(tmp_path):
    path = tmp_path / "sample.txt"
    registry_sample_write(out=path, rows=4000, bad_share=0, seed=3)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == HEADER and all(line.count("|") == 56 for line in lines)
    registry_import(path=path)
    assert set(Exercise.objects.values_list("profession_id", flat=True)) == {code for code, _ in PROFESSIONS}
    assert set(Exercise.objects.values_list("category_id", flat=True)) == {"C", "E", "M", "F"}
    assert (
        Professional.objects.filter(id_type="0").exists()
        and Professional.objects.filter(id_type="8").exists()
    )
    assert Activity.objects.filter(
        structure__technical_id__startswith="C", structure__finess_site__gt=""
    ).exists()
    several = Professional.objects.filter(exercises__activities__isnull=False).distinct().count()
    assert several < Activity.objects.count()  # some people have several activities


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "latin-1"])
def test_the_command_writes_every_encoding_zipped_and_the_import_reads_it_back(tmp_path, encoding):
    path = tmp_path / "sample.zip"
    out = StringIO()
    call_command(
        "make_registry_sample",
        rows=300,
        out=str(path),
        seed=1,
        encoding=encoding,
        zip=True,
        crlf=True,
        stdout=out,
    )
    assert "300 rows" in out.getvalue()
    result = registry_import(path=path)
    assert result.rows == 300 and result.imported + result.rejected == 300
    assert result.encoding in {"utf-8", "utf-8-sig", "cp1252", "iso-8859-1"}


def test_the_same_seed_writes_the_same_file(tmp_path):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    registry_sample_write(out=first, rows=500, seed=11)
    registry_sample_write(out=second, rows=500, seed=11)
    assert first.read_bytes() == second.read_bytes()
