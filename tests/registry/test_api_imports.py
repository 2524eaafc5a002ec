"""Registry imports over HTTP (registry/api_imports.py, the task in registry/tasks.py): ANS operators upload,
follow, download rejects."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from registry import services, tasks
from registry.models import Account, Professional, RegistryImport
from tests.factories import persona

pytestmark = pytest.mark.django_db

URL = "/api/v1/registry/imports/"


@pytest.fixture(autouse=True)
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    settings.CPX_REJECT_DIR = tmp_path / "var" / "rejects"


@pytest.fixture
def queued(monkeypatch):
    """The task ids the view queued (the worker is the outside world here)."""
    calls: list[int] = []
    monkeypatch.setattr(tasks.import_upload, "delay", calls.append)
    return calls


@pytest.fixture
def sample(tmp_path) -> Path:
    path = tmp_path / "PS_LibreAcces_Personne_activite_test.txt"
    call_command("make_registry_sample", rows=60, out=str(path), seed=7, bad_share=0.1, stdout=io.StringIO())
    return path


def run_task(import_id: int) -> str:
    """The task as a worker runs it (its retries included, in place); its failure is raised."""
    return tasks.import_upload.apply(args=[import_id]).get()


def client_for(role: str | None, **links) -> APIClient:
    client = APIClient()
    if role is not None:
        client.force_authenticate(persona(role, **links))
    return client


def upload(client: APIClient, path: Path, **extra):
    with path.open("rb") as handle:
        return client.post(URL, {"file": handle, **extra}, format="multipart")


def test_an_ans_operator_uploads_a_file_and_gets_202_with_the_running_import(sample, queued):
    response = upload(client_for(Account.Role.ANS_OPERATOR), sample)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "running" and body["file_name"] == sample.name and body["full"] is False
    assert body["reject_report_url"] is None
    assert queued == [body["id"]]
    assert Professional.objects.count() == 0  # the worker imports, not the web request


def test_the_task_imports_through_the_service_and_one_row_remains(sample, queued):
    client = client_for(Account.Role.ANS_OPERATOR)
    import_id = upload(client, sample, full="true").json()["id"]
    assert run_task(import_id).startswith("imported ")
    body = client.get(f"{URL}{import_id}/").json()
    assert body["status"] == "done" and body["full"] is True and body["rows_read"] == 60
    assert body["imported"] + body["updated"] + body["unchanged"] + body["rejected"] == 60
    assert body["rejected"] > 0 and body["imported"] > 0
    assert RegistryImport.objects.count() == 1  # the service's own record folded into the API's
    assert Professional.objects.exists()

    report = client.get(body["reject_report_url"])
    assert report.status_code == 200 and report["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(report.streaming_content).decode())))
    assert len(rows) == body["rejected"] and set(rows[0]) == {"line", "identifier", "column", "rule", "value"}


def test_a_second_delivery_of_the_task_changes_nothing(sample, queued):
    import_id = upload(client_for(Account.Role.ANS_OPERATOR), sample).json()["id"]
    run_task(import_id)
    before = RegistryImport.objects.get(pk=import_id)
    assert run_task(import_id) == "nothing to do"
    assert RegistryImport.objects.get(pk=import_id).finished_at == before.finished_at


def test_an_interrupted_attempt_leaves_one_row_after_the_redelivery(sample, queued):
    import_id = upload(client_for(Account.Role.ANS_OPERATOR), sample).json()["id"]
    record = RegistryImport.objects.get(pk=import_id)
    RegistryImport.objects.create(file_name=record.file_name, file_sha256="")  # a lost worker's row
    run_task(import_id)
    assert list(RegistryImport.objects.values_list("pk", "status")) == [(import_id, "done")]


def test_a_file_without_rejects_has_no_report(tmp_path, queued):
    path = tmp_path / "clean.txt"
    call_command("make_registry_sample", rows=10, out=str(path), bad_share=0, stdout=io.StringIO())
    client = client_for(Account.Role.ANS_OPERATOR)
    import_id = upload(client, path).json()["id"]
    run_task(import_id)
    body = client.get(f"{URL}{import_id}/").json()
    assert body["status"] == "done" and body["rejected"] == 0 and body["reject_report_url"] is None
    response = client.get(f"{URL}{import_id}/reject-report/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_a_running_import_has_no_report_yet(sample, queued):
    client = client_for(Account.Role.ANS_OPERATOR)
    import_id = upload(client, sample).json()["id"]
    assert client.get(f"{URL}{import_id}/reject-report/").status_code == 404


def test_a_file_refused_by_the_service_ends_refused_with_its_reason(tmp_path, queued):
    path = tmp_path / "cut.txt"
    call_command("make_registry_sample", rows=5, out=str(path), bad_share=0, stdout=io.StringIO())
    header = path.read_text().splitlines()[0]
    client = client_for(Account.Role.ANS_OPERATOR)
    only_header = tmp_path / "header_only.txt"
    only_header.write_text(header + "\n")
    import_id = upload(client, only_header).json()["id"]
    assert run_task(import_id) == "refused"
    body = client.get(f"{URL}{import_id}/").json()
    assert body["status"] == "refused" and (
        "no data rows" in body["error"] or "aucune ligne de données" in body["error"]
    )
    assert str(tmp_path) not in body["error"]  # server paths are not shown
    assert RegistryImport.objects.count() == 1


# --- bad input -------------------------------------------------------------------------------------------


def test_no_file_is_400(queued):
    response = client_for(Account.Role.ANS_OPERATOR).post(URL, {"full": "true"}, format="multipart")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and "file" in response.json()["fields"]
    assert queued == [] and not RegistryImport.objects.exists()


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"name;first name\nDUPONT;Jean\n", "columns"),
        (b"", "empty"),
        (b"\x00\x01\x02binary", "NUL"),
        (b"PK\x03\x04broken zip", "header"),
    ],
)
def test_a_file_not_in_the_extraction_format_is_400_and_not_kept(tmp_path, settings, queued, content, why):
    path = tmp_path / "other.txt"
    path.write_bytes(content)
    response = upload(client_for(Account.Role.ANS_OPERATOR), path)
    assert response.status_code == 400, response.content
    assert "file" in response.json()["fields"]
    assert queued == [] and not RegistryImport.objects.exists()
    assert not any((Path(settings.VAR_DIR) / "imports").glob("*/*"))


def test_a_json_body_is_415(queued):
    response = client_for(Account.Role.ANS_OPERATOR).post(URL, {"file": "x"}, format="json")
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    ("role", "links"),
    [
        (Account.Role.HOLDER, {}),
        (Account.Role.AUTHORITY_OPERATOR, {"authority": "CNOM"}),
        (Account.Role.STRUCTURE_MANAGER, {}),
        (Account.Role.AUDITOR, {}),
    ],
)
def test_other_roles_are_403_on_every_endpoint(sample, queued, role, links):
    import_id = upload(client_for(Account.Role.ANS_OPERATOR), sample).json()["id"]
    client = client_for(role, **links)
    assert upload(client, sample).status_code == 403
    assert client.get(f"{URL}{import_id}/").status_code == 403
    assert client.get(f"{URL}{import_id}/reject-report/").status_code == 403
    assert queued == [import_id]


def test_anonymous_is_401(sample):
    assert upload(client_for(None), sample).status_code == 401
    assert client_for(None).get(f"{URL}1/").status_code == 401


@pytest.mark.parametrize("import_id", ["999999", "0", "-1", "abc", str(2**64)])
def test_unknown_ids_are_404(import_id):
    client = client_for(Account.Role.ANS_OPERATOR)
    assert client.get(f"{URL}{import_id}/").status_code == 404
    assert client.get(f"{URL}{import_id}/reject-report/").status_code == 404


def test_a_broker_outage_is_503_and_the_import_is_not_left_running(sample, monkeypatch):
    def down(_pk):
        raise ConnectionError("redis down")

    monkeypatch.setattr(tasks.import_upload, "delay", down)
    response = upload(client_for(Account.Role.ANS_OPERATOR), sample)
    assert response.status_code == 503 and response.json()["code"] == "unavailable"
    assert list(RegistryImport.objects.values_list("status", flat=True)) == ["refused"]


def test_a_lost_database_connection_runs_the_import_again(sample, queued, monkeypatch):
    from django.db import OperationalError

    import_id = upload(client_for(Account.Role.ANS_OPERATOR), sample).json()["id"]
    real, calls = services.registry_import, []

    def restarted_once(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(services, "registry_import", restarted_once)
    # (the task drops its broken connection; the test's own, inside its transaction, must stay)
    monkeypatch.setattr(tasks, "connection", SimpleNamespace(close=lambda: None))
    assert run_task(import_id).startswith("imported ")
    assert len(calls) == 2
    assert list(RegistryImport.objects.values_list("pk", "status")) == [(import_id, "done")]


def test_a_database_that_stays_away_fails_the_task_after_its_retries(sample, queued, monkeypatch):
    from django.db import OperationalError

    import_id = upload(client_for(Account.Role.ANS_OPERATOR), sample).json()["id"]
    calls = []

    def down(**kwargs):
        calls.append(kwargs)
        raise OperationalError("the database is still restarting")

    monkeypatch.setattr(services, "registry_import", down)
    monkeypatch.setattr(tasks, "connection", SimpleNamespace(close=lambda: None))
    with pytest.raises(OperationalError):
        run_task(import_id)
    assert len(calls) == tasks.RECONNECT_RETRIES + 1


def test_a_database_lost_before_the_task_reads_its_upload_is_retried_too(sample, queued, monkeypatch):
    """After a server restart the task's first query is the one that fails: it is retried like the rest."""
    from django.db import OperationalError

    import_id = upload(client_for(Account.Role.ANS_OPERATOR), sample).json()["id"]
    real_filter, failures = RegistryImport.objects.filter, []

    def first_query_fails(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise OperationalError("terminating connection due to administrator command")
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(RegistryImport.objects, "filter", first_query_fails)
    monkeypatch.setattr(tasks, "connection", SimpleNamespace(close=lambda: None))
    assert run_task(import_id).startswith("imported ")
    assert failures == [1]
    assert RegistryImport.objects.get(pk=import_id).status == "done"
