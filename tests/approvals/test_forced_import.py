"""A forced full registry import (past the deactivation guard) needs a second ANS operator's approval, for
that very file; the non-forced path is unchanged."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from approvals import errors
from approvals import services as approvals
from approvals.models import ApprovalRequest
from registry import forced_import, tasks
from registry.identifiers import luhn_complete
from registry.models import Professional, RegistryImport
from registry.services import registry_import
from tests.registry.conftest import sample_row, sample_rows, write_extraction  # noqa: F401 (fixture)

from .helpers import ans_operators

pytestmark = pytest.mark.django_db


@pytest.fixture
def truncated(write_extraction):  # noqa: F811
    """A registry of 33 active people, and a "full" file listing 3 of them: past the 5% guard."""
    rows = sample_rows()
    for number in range(30):
        rpps = luhn_complete(f"1000{number:06d}")
        rows.append(sample_row(2, identifier=rpps, national_id="8" + rpps))
    registry_import(path=write_extraction(rows))
    return write_extraction(sample_rows()[:3])


@pytest.fixture
def operators(db):
    return ans_operators(3)


def active() -> int:
    return Professional.objects.filter(is_active=True).count()


def ask(path, operator) -> ApprovalRequest:
    return forced_import.forced_import_request(path=path, actor=operator)


# --- the command --------------------------------------------------------------------------------------------


def test_force_without_approval_asks_for_one_and_imports_nothing(truncated, operators):
    alice = operators[0]
    out = StringIO()
    with pytest.raises(CommandError) as stopped:
        call_command(
            "import_registry", str(truncated), full=True, force=True, operator=alice.username, stdout=out
        )
    assert stopped.value.returncode == 2
    asked = ApprovalRequest.objects.get()
    assert (
        f"approval request {asked.pk} created" in out.getvalue()
        and f"--approval {asked.pk}" in out.getvalue()
    )
    assert (asked.action, asked.object_id, asked.requested_by) == (
        forced_import.ACTION,
        forced_import.target(truncated)["object_id"],
        alice,
    )
    assert asked.payload["file_name"] == truncated.name
    assert active() == 33
    assert not RegistryImport.objects.filter(full=True).exists()


def test_force_without_an_operator_is_refused(truncated):
    with pytest.raises(CommandError, match="--operator"):
        call_command("import_registry", str(truncated), full=True, force=True, stdout=StringIO())
    assert not ApprovalRequest.objects.exists()


def test_the_requester_cannot_approve_and_a_pending_approval_does_not_import(truncated, operators):
    alice = operators[0]
    asked = ask(truncated, alice)
    with pytest.raises(errors.SelfApproval):
        approvals.decide(request_id=asked.pk, actor=alice, approve=True)
    with pytest.raises(CommandError, match="approval_required"):
        call_command(
            "import_registry", str(truncated), full=True, force=True, approval=asked.pk, stdout=StringIO()
        )
    assert active() == 33


def test_once_a_second_operator_approves_the_forced_import_runs_once(truncated, operators):
    alice, bob, _ = operators
    asked = ask(truncated, alice)
    approvals.decide(request_id=asked.pk, actor=bob, approve=True)
    out = StringIO()
    call_command(
        "import_registry",
        str(truncated),
        full=True,
        force=True,
        approval=asked.pk,
        operator=alice.username,
        stdout=out,
    )
    assert "deactivated 31" in out.getvalue()
    assert active() == 2
    asked.refresh_from_db()
    assert asked.used_at is not None
    with pytest.raises(CommandError, match="déjà été utilisée"):
        call_command(
            "import_registry", str(truncated), full=True, force=True, approval=asked.pk, stdout=StringIO()
        )


def test_an_approval_is_for_its_file_only(truncated, operators, write_extraction):  # noqa: F811
    alice, bob, _ = operators
    asked = ask(truncated, alice)
    approvals.decide(request_id=asked.pk, actor=bob, approve=True)
    other = write_extraction(sample_rows()[:2])
    with pytest.raises(CommandError, match="approval_required"):
        call_command(
            "import_registry", str(other), full=True, force=True, approval=asked.pk, stdout=StringIO()
        )
    assert active() == 33


def test_a_forced_import_that_fails_leaves_the_approval_unused(truncated, operators, monkeypatch):
    import registry.services
    from registry.textfile import FileRefused

    alice, bob, _ = operators
    asked = ask(truncated, alice)
    approvals.decide(request_id=asked.pk, actor=bob, approve=True)

    def failing(*args, **kwargs):
        raise FileRefused("the disk is gone")

    monkeypatch.setattr(registry.services, "_extraction", failing)
    with pytest.raises(CommandError, match="the disk is gone"):
        call_command(
            "import_registry", str(truncated), full=True, force=True, approval=asked.pk, stdout=StringIO()
        )
    asked.refresh_from_db()
    assert asked.used_at is None  # rolled back with the import: it can be used by the next run
    monkeypatch.undo()
    call_command(
        "import_registry", str(truncated), full=True, force=True, approval=asked.pk, stdout=StringIO()
    )
    assert active() == 2


def test_the_non_forced_path_is_unchanged(truncated):
    with pytest.raises(CommandError, match=r"refused: .*31 (of the|des) 33"):
        call_command("import_registry", str(truncated), full=True, stdout=StringIO())
    assert not ApprovalRequest.objects.exists()


def test_approval_without_force_is_refused(truncated):
    with pytest.raises(CommandError, match="--approval goes with"):
        call_command("import_registry", str(truncated), full=True, approval=1, stdout=StringIO())


# --- the service --------------------------------------------------------------------------------------------


def test_the_service_refuses_force_without_approval(truncated):
    with pytest.raises(errors.ApprovalRequired):
        registry_import(path=truncated, full=True, force=True)
    assert active() == 33


# --- the API ------------------------------------------------------------------------------------------------

URL = "/api/v1/registry/imports/"


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    settings.CPX_REJECT_DIR = tmp_path / "var" / "rejects"


def upload(user, path, **extra):
    client = APIClient()
    client.force_authenticate(user)
    with path.open("rb") as handle:
        return client.post(URL, {"file": handle, **extra}, format="multipart")


def test_the_api_asks_for_approval_then_imports_with_it(truncated, operators, var_dir, monkeypatch):
    alice, bob, _ = operators
    queued: list[tuple] = []
    monkeypatch.setattr(tasks.import_upload, "delay", lambda *args: queued.append(args))
    first = upload(alice, truncated, full="true", force="true")
    assert first.status_code == 403, first.content
    body = first.json()
    assert body["code"] == "approval_required"
    asked = ApprovalRequest.objects.get(pk=body["request_id"])
    assert asked.requested_by == alice and asked.object_id == forced_import.target(truncated)["object_id"]
    assert queued == [] and not RegistryImport.objects.filter(full=True).exists()

    mine = upload(alice, truncated, full="true", force="true", approval=str(asked.pk))
    assert mine.status_code == 403  # not approved yet
    approvals.decide(request_id=asked.pk, actor=bob, approve=True)
    accepted = upload(alice, truncated, full="true", force="true", approval=str(asked.pk))
    assert accepted.status_code == 202, accepted.content
    ((import_id, approval_id),) = queued
    assert approval_id == asked.pk
    assert tasks.import_upload.apply(args=[import_id, approval_id]).get().startswith("imported ")
    assert active() == 2
    asked.refresh_from_db()
    assert asked.used_at is not None


def test_the_api_refuses_force_without_full(truncated, operators, var_dir):
    response = upload(operators[0], truncated, force="true")
    assert response.status_code == 400 and "force" in response.json()["fields"]
