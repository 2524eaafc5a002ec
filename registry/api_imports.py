"""Registry imports over HTTP, for ANS operators (``/api/v1/registry/imports/``).

An upload is checked at once (a file, whose first line is the PS_LibreAcces header), kept under
``VAR_DIR/imports/``, recorded as a RegistryImport in state ``running``, and imported by a Celery task
(``registry.tasks.import_upload``) through the registry's own service
(``registry.services.registry_upload_import``), so a large file never holds a web worker. The client gets
202 with the import's id and follows it with GET.

The import records each run in a RegistryImport of its own; the service folds that row into the one the
API answered with (same counts, status and error) and removes it, so there is one row per upload. A task
delivered twice (a worker lost mid-import) imports again: the import's transaction is all or nothing, so
the first attempt left nothing behind but its own ``running`` row, removed in the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.http import FileResponse
from django.urls import path as route
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import MAX_ID, ApiErrorSerializer, ApiView, QueryBooleanField, error_responses
from core.errors import NotFound
from core.roles import Role, role_of

from .models import RegistryImport
from .uploads import QueueUnavailable, UploadRefused, format_problem, upload_import_start, upload_store

__all__ = ["QueueUnavailable", "format_problem", "upload_store", "urlpatterns"]

Status = RegistryImport.Status


class ImportNotFound(NotFound):
    default_message = gettext_lazy("No such registry import.")


class IsAnsOperator(BasePermission):
    message = "Registry imports are run by ANS operators."

    def has_permission(self, request: Any, view: Any) -> bool:
        return role_of(request.user) == Role.ANS_OPERATOR


# --- serializers -----------------------------------------------------------------------------------------


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="A PS_LibreAcces_Personne_activite extraction (.txt, .csv or .zip; UTF-8, "
        "Windows-1252 or ISO-8859-1)."
    )
    full = QueryBooleanField(  # a form's text: true or false
        required=False,
        default=False,
        help_text="A full extraction: professionals it no longer lists are marked inactive.",
    )
    force = QueryBooleanField(
        required=False,
        default=False,
        help_text="With full: deactivate even more than CPX_IMPORT_MAX_DEACTIVATION_SHARE of the active "
        "registry. Needs a second ANS operator's approval of this file: without `approval`, one is "
        "requested (403 `approval_required` with its `request_id`) and nothing is imported.",
    )
    approval = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="With force: the number of the approved request for a forced import of this same file.",
    )

    def validate(self, data: dict) -> dict:
        if data.get("force") and not data.get("full"):
            raise serializers.ValidationError({"force": ["force applies to a full import only."]})
        if "approval" in data and not data.get("force"):
            raise serializers.ValidationError({"approval": ["approval goes with force."]})
        return data


class ApprovalRequiredSerializer(ApiErrorSerializer):
    request_id = serializers.IntegerField(
        required=False, help_text="The approval request to approve, or given."
    )


class RegistryImportSerializer(serializers.ModelSerializer):
    file_name = serializers.SerializerMethodField(help_text="The uploaded file's name.")
    reject_report_url = serializers.SerializerMethodField(
        help_text="Where to download the rejected rows (CSV), once the import is done and rejected some."
    )

    class Meta:
        model = RegistryImport
        fields = [
            "id",
            "file_name",
            "kind",
            "full",
            "status",
            "encoding",
            "file_sha256",
            "started_at",
            "finished_at",
            "rows_read",
            "imported",
            "updated",
            "unchanged",
            "rejected",
            "deactivated",
            "error",
            "reject_report_url",
        ]
        read_only_fields = fields

    def get_file_name(self, record: RegistryImport) -> str:
        return Path(record.file_name).name

    def get_reject_report_url(self, record: RegistryImport) -> str | None:
        if not _report_available(record):
            return None
        return f"/api/v1/registry/imports/{record.pk}/reject-report/"


def _report_available(record: RegistryImport) -> bool:
    return bool(record.status == Status.DONE and record.reject_report and Path(record.reject_report).exists())


# --- views -----------------------------------------------------------------------------------------------

ID_PARAMETER = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Import id.")


class ImportsApiView(ApiView):
    permission_classes = [IsAuthenticated, IsAnsOperator]

    def visible_import(self) -> RegistryImport:
        record = RegistryImport.objects.filter(pk=self.check_id(self.kwargs["pk"])).first()
        if record is None:
            raise ImportNotFound()
        return record


class RegistryImportCreateView(ImportsApiView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="registry_import_create",
        summary="Upload an extraction file and import it (ANS operators)",
        description=(
            "The file is checked at once (its header), then imported in the background: the answer is "
            "202 with the import, in state `running`; follow it with GET until `done` or `refused`."
        ),
        request={"multipart/form-data": ImportUploadSerializer},
        responses={
            202: RegistryImportSerializer,
            **error_responses(400, 401),
            403: OpenApiResponse(
                ApprovalRequiredSerializer,
                description="Not an ANS operator; or a forced import without a usable approval "
                "(`approval_required`: a request for one was made, or the one given is not granted for this "
                "file, already used or expired).",
            ),
            415: OpenApiResponse(ApiErrorSerializer, description="Not a multipart/form-data body."),
            409: OpenApiResponse(
                ApprovalRequiredSerializer,
                description="`already_requested`: a forced import of this file already waits for approval.",
            ),
            503: OpenApiResponse(ApiErrorSerializer, description="The task queue is unavailable."),
        },
        tags=["registry"],
    )
    def post(self, request: Request) -> Response:
        data = ImportUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            record = upload_import_start(
                upload=data.validated_data["file"],
                actor=request.user,
                full=data.validated_data["full"],
                force=data.validated_data["force"],
                approval_id=data.validated_data.get("approval"),
            )
        except UploadRefused as exc:
            raise exceptions.ValidationError({"file": [exc.problem]}) from exc
        return Response(RegistryImportSerializer(record).data, status=status.HTTP_202_ACCEPTED)


class RegistryImportDetailView(ImportsApiView):
    @extend_schema(
        operation_id="registry_import_show",
        summary="An import: its state and counts",
        parameters=[ID_PARAMETER],
        responses={200: RegistryImportSerializer, **error_responses(401, 403, 404)},
        tags=["registry"],
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(RegistryImportSerializer(self.visible_import()).data)


class CsvRenderer(JSONRenderer):
    """Lets clients ask for ``text/csv``; errors are still JSON (see ``finalize_response``)."""

    media_type = "text/csv"
    format = "csv"


class RegistryImportRejectReportView(ImportsApiView):
    renderer_classes = [JSONRenderer, CsvRenderer]

    @extend_schema(
        operation_id="registry_import_reject_report",
        summary="The rows an import rejected (CSV: line, identifier, column, rule, value)",
        parameters=[ID_PARAMETER],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The reject report."),
            **error_responses(401, 403, 404),
        },
        tags=["registry"],
    )
    def get(self, request: Request, pk: int) -> Any:
        record = self.visible_import()
        if not _report_available(record):
            raise exceptions.NotFound("This import has no reject report (not done, or nothing rejected).")
        report = Path(record.reject_report).open("rb")  # noqa: SIM115 (FileResponse closes it)
        response = FileResponse(report, content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="import-{record.pk}-rejects.csv"'
        return response

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(response, Response):
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)


# Included by config/api_urls.py under registry/imports/.
urlpatterns = [
    route("", RegistryImportCreateView.as_view(), name="registry-import-create"),
    route("<int:pk>/", RegistryImportDetailView.as_view(), name="registry-import-detail"),
    route(
        "<int:pk>/reject-report/", RegistryImportRejectReportView.as_view(), name="registry-import-rejects"
    ),
]
