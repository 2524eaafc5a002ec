"""REST API of the registry (persons), under the platform's API conventions (``core.api``).

People outside the user's scope (``registry.scoping``) answer 404, never 403.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.viewsets import ReadOnlyModelViewSet

from core.api import ApiView, error_responses

from .models import Exercise, Professional, StructureMember
from .routing import authority_for_exercise
from .scoping import professionals_visible_to

# --- persons -------------------------------------------------------------------------------------------


class ExerciseSerializer(serializers.ModelSerializer):
    profession = serializers.CharField(source="profession_id")
    profession_label = serializers.CharField(source="profession.label")
    category = serializers.CharField(source="category_id", allow_null=True)
    authority = serializers.SerializerMethodField(help_text="Authority that reviews this exercise's orders.")

    class Meta:
        model = Exercise
        fields = ["id", "profession", "profession_label", "category", "is_active", "authority"]

    def get_authority(self, exercise: Exercise) -> str:
        return authority_for_exercise(exercise, exercise.professional).code


class MembershipSerializer(serializers.ModelSerializer):
    structure_name = serializers.CharField(source="structure.name")

    class Meta:
        model = StructureMember
        fields = ["structure", "structure_name", "role", "is_active"]


class PersonSerializer(serializers.ModelSerializer):
    exercises = ExerciseSerializer(many=True, read_only=True)
    memberships = MembershipSerializer(many=True, read_only=True)

    class Meta:
        model = Professional
        fields = [
            "id",
            "national_id",
            "id_type",
            "rpps",
            "adeli",
            "civility",
            "last_name",
            "first_name",
            "is_active",
            "deactivated_at",
            "exercises",
            "memberships",
        ]


class PersonSearchSerializer(serializers.Serializer):
    identifier = serializers.RegexField(
        r"^[0-9A-Za-z/]+$",
        required=False,
        max_length=32,
        help_text="National identifier, RPPS or ADELI number (exact).",
    )
    name = serializers.RegexField(
        r"^[^\x00]+$",
        required=False,
        max_length=120,
        help_text="Part of the last or first name (case-insensitive).",
    )


@extend_schema_view(
    list=extend_schema(
        summary="Search persons",
        parameters=[PersonSearchSerializer],
        responses={200: PersonSerializer(many=True), **error_responses(400, 401, 403)},
    ),
    retrieve=extend_schema(
        summary="A person with their exercises and structure memberships",
        parameters=[
            OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Person id.")
        ],
        responses={200: PersonSerializer, **error_responses(401, 403, 404)},
    ),
)
class PersonViewSet(ApiView, ReadOnlyModelViewSet):
    serializer_class = PersonSerializer
    lookup_value_regex = "[0-9]+"  # an id; one larger than a bigint is not found (check_id)

    def get_queryset(self) -> QuerySet[Professional]:
        people = professionals_visible_to(self.request.user).order_by("last_name", "first_name", "id")
        return people.prefetch_related(
            "exercises__profession__authority", "exercises__professional", "memberships__structure"
        )

    def get_object(self) -> Professional:
        return super().get_object() if self.check_id(self.kwargs["pk"]) else None  # type: ignore[return-value]

    def filter_queryset(self, queryset: Any) -> Any:
        if self.action != "list":
            return queryset
        search = PersonSearchSerializer(data=self.request.query_params.dict())
        search.is_valid(raise_exception=True)
        if identifier := search.validated_data.get("identifier"):
            queryset = queryset.filter(Q(national_id=identifier) | Q(rpps=identifier) | Q(adeli=identifier))
        if name := search.validated_data.get("name"):
            queryset = queryset.filter(Q(last_name__icontains=name) | Q(first_name__icontains=name))
        return queryset
