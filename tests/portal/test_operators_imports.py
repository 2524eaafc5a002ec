"""The registry import page: an ANS operator uploads an extraction, follows its progress, then reads its
counts and downloads its reject report. The worker is the outside world: the test runs the task."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from registry import tasks
from registry.models import RegistryImport

URL = "/backoffice/imports/"


@pytest.fixture(autouse=True)
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    settings.CPX_REJECT_DIR = tmp_path / "var" / "rejects"
    settings.LANGUAGE_CODE = "en"  # the French catalogue is merged by the lead


@pytest.fixture
def queued(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(tasks.import_upload, "delay", lambda *args: calls.append(args))
    return calls


@pytest.fixture
def sample(tmp_path) -> Path:
    path = tmp_path / "PS_LibreAcces_Personne_activite_ui.txt"
    call_command("make_registry_sample", rows=40, out=str(path), seed=3, bad_share=0.1, stdout=io.StringIO())
    return path


def post_file(client, path: Path, **extra):
    with path.open("rb") as handle:
        return client.post(URL, {"file": handle, **extra})


def test_the_page_has_the_upload_form(people, as_user):
    response = as_user(people.ans).get(URL)
    assert response.status_code == 200
    assert b'type="file"' in response.content
    assert b'enctype="multipart/form-data"' in response.content


@pytest.mark.parametrize("who", ["cnom", "auditor", "holder"])
def test_only_ans_operators_import(people, as_user, who, sample, queued):
    response = post_file(as_user(getattr(people, who)), sample)
    assert response.status_code in (302, 403, 404)
    assert queued == []
    assert not RegistryImport.objects.exists()


def test_an_upload_runs_in_the_task_and_its_page_follows_it(people, as_user, sample, queued):
    client = as_user(people.ans)
    response = post_file(client, sample)
    record = RegistryImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:import", args=[record.pk])
    assert queued == [(record.pk,)]

    page = client.get(response["Location"])
    assert page.status_code == 200
    assert 'hx-trigger="every 1s"' in page.content.decode()
    assert "Import in progress" in page.content.decode()

    # What the worker publishes while the import runs: the fragment shows it.
    RegistryImport.objects.filter(pk=record.pk).update(rows_read=1500)
    fragment = client.get(response["Location"], headers={"HX-Request": "true"})
    text = fragment.content.decode()
    assert "<h1" not in text
    assert "1500 rows read so far" in text

    tasks.import_upload.apply(args=[record.pk]).get()
    record.refresh_from_db()
    assert record.status == RegistryImport.Status.DONE and record.rejected > 0
    fragment = client.get(response["Location"], headers={"HX-Request": "true"})
    text = fragment.content.decode()
    assert "every 1s" not in text  # it stops asking
    assert "Import finished" in text
    assert reverse("portal:import-rejects", args=[record.pk]) in text

    report = client.get(reverse("portal:import-rejects", args=[record.pk]))
    assert report.status_code == 200
    assert b"line" in b"".join(report.streaming_content)


def test_a_file_that_is_not_an_extraction_is_refused_on_the_form(people, as_user, tmp_path, queued):
    path = tmp_path / "notes.txt"
    path.write_text("hello|world\n1|2\n", encoding="utf-8")
    response = post_file(as_user(people.ans), path)
    assert response.status_code == 400
    assert "not a registry extraction" in response.content.decode()
    assert not RegistryImport.objects.exists() and queued == []


def test_force_without_full_is_refused(people, as_user, sample, queued):
    response = post_file(as_user(people.ans), sample, force="on")
    assert response.status_code == 400
    assert queued == []


def test_a_forced_import_without_approval_makes_the_request(people, as_user, sample, queued):
    from approvals.models import ApprovalRequest

    response = post_file(as_user(people.ans), sample, full="on", force="on")
    assert response.status_code == 302 and response["Location"] == URL
    assert ApprovalRequest.objects.count() == 1
    assert not RegistryImport.objects.exists() and queued == []


def test_a_refusal_for_too_many_struck_off_shows_how_to_force(people, as_user):
    run = RegistryImport.objects.create(
        file_name="/x/PS.txt",
        full=True,
        status=RegistryImport.Status.REFUSED,
        error="… more than the 5.0% allowed (setting CPX_IMPORT_MAX_DEACTIVATION_SHARE): refused",
    )
    text = as_user(people.ans).get(reverse("portal:import", args=[run.pk])).content.decode()
    assert "Force the import" in text
    assert reverse("portal:approvals") in text
