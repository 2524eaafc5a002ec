"""REST API of production (``/api/v1/stations/``): read-only.

Stations, their readers, blank stock, throughput and failures are for the people who watch production
(ANS operators, auditors, the platform itself).
"""

from __future__ import annotations

import re
from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.viewsets import ReadOnlyModelViewSet

from core.api import ApiView, error_responses
from core.roles import PRODUCTION_WATCHERS, role_of

from . import services
from .models import PersonalizationJob, ReaderStation

RECENT_FAILURES = 20
# A station name is a slug of at most 40 characters (ReaderStation.name): anything else (a NUL byte, which
# PostgreSQL refuses in a text parameter, or a name too long) is not found, without asking the database.
STATION_NAME = re.compile(r"[-a-zA-Z0-9_]{1,40}")


class WatchesProduction(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return role_of(request.user) in PRODUCTION_WATCHERS


class FailureSerializer(serializers.ModelSerializer):
    order_id = serializers.IntegerField(read_only=True)
    blank = serializers.CharField(source="blank.number", default="")

    class Meta:
        model = PersonalizationJob
        fields = ["order_id", "blank", "step", "error", "started_at", "updated_at"]


class StationSerializer(serializers.ModelSerializer):
    queue = serializers.CharField(read_only=True)
    state = serializers.SerializerMethodField()
    stats = serializers.SerializerMethodField()
    recent_failures = serializers.SerializerMethodField()

    class Meta:
        model = ReaderStation
        fields = ["name", "module", "queue", "state", "last_heartbeat", "stats", "recent_failures"]

    def get_state(self, station: ReaderStation) -> str:
        return services.station_state(station=station)

    def get_stats(self, station: ReaderStation) -> dict[str, Any]:
        return services.station_stats(station=station)

    @extend_schema(responses=FailureSerializer(many=True))
    def get_recent_failures(self, station: ReaderStation) -> list[dict[str, Any]]:
        failed = station.jobs.filter(
            step__in=[PersonalizationJob.Step.FAILED, PersonalizationJob.Step.INTERRUPTED]
        )
        rows = failed.select_related("blank").order_by("-updated_at")[:RECENT_FAILURES]
        return list(FailureSerializer(rows, many=True).data)


@extend_schema_view(
    list=extend_schema(
        summary="Reader stations (ANS operators, auditors)",
        responses={200: StationSerializer(many=True), **error_responses(401, 403)},
    ),
    retrieve=extend_schema(
        summary="A reader station",
        parameters=[
            OpenApiParameter(
                "name",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                pattern=f"^{STATION_NAME.pattern}$",
                description="The station's name (a slug).",
            )
        ],
        responses={200: StationSerializer, **error_responses(401, 403, 404)},
    ),
)
class StationViewSet(ApiView, ReadOnlyModelViewSet):
    """Reader stations: state, heartbeat, readers, blank stock, cards made and failures in the last hour."""

    serializer_class = StationSerializer
    permission_classes = [WatchesProduction]
    lookup_field = "name"
    queryset = ReaderStation.objects.order_by("name")

    def get_object(self) -> ReaderStation:
        name = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, "")
        if not (isinstance(name, str) and STATION_NAME.fullmatch(name)):
            raise Http404
        return super().get_object()
