"""The run records the hash of the file as given: for a zip, the archive's (as the upload API records it at
once), not that of the text inside it."""

import hashlib
import zipfile

import pytest

from registry.models import RegistryImport
from registry.services import registry_import
from registry.textfile import file_sha256

from .conftest import SAMPLE

pytestmark = pytest.mark.django_db


def test_a_zip_is_recorded_with_the_zips_own_hash(tmp_path):
    path = tmp_path / "PS_LibreAcces_Personne_activite.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(SAMPLE, SAMPLE.name)
    result = registry_import(path=path)
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    assert expected != hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    assert result.sha256 == expected == file_sha256(path)  # the upload API's hash of the same file
    assert RegistryImport.objects.get().file_sha256 == expected


def test_a_plain_file_is_recorded_with_its_hash():
    result = registry_import(path=SAMPLE)
    expected = hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    assert result.sha256 == expected == RegistryImport.objects.get().file_sha256
