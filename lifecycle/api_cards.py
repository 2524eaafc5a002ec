"""REST API of cards (``/api/v1/cards/``): read-only, scoped by ``cards.scoping`` like everything else.

Here (above orders) rather than in ``cards``, because a card's answer names the order it was made for.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.viewsets import ReadOnlyModelViewSet

from cards.models import Card
from cards.scoping import cards_visible_to
from core.api import error_responses
from pki.models import Certificate


class CertificateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Certificate
        fields = ["serial", "usage", "subject", "not_before", "not_after", "revoked_at", "revocation_reason"]


class CardSerializer(serializers.ModelSerializer):
    display_number = serializers.CharField(read_only=True)
    national_id = serializers.CharField(source="professional.national_id")
    certificates = CertificateSerializer(many=True, read_only=True)
    order_id = serializers.IntegerField(source="order.pk", default=None, read_only=True, allow_null=True)

    class Meta:
        model = Card
        fields = [
            "id",
            "number",
            "display_number",
            "card_type",
            "state",
            "national_id",
            "valid_from",
            "valid_until",
            "order_id",
            "certificates",
        ]


@extend_schema_view(
    list=extend_schema(
        summary="Cards you may see",
        responses={200: CardSerializer(many=True), **error_responses(401, 403)},
    ),
    retrieve=extend_schema(
        summary="A card with its certificates",
        responses={200: CardSerializer, **error_responses(401, 403, 404)},
    ),
)
class CardViewSet(ReadOnlyModelViewSet):
    """Cards the user may see (their own, their structure's, their authority's), with certificates."""

    serializer_class = CardSerializer

    def get_queryset(self) -> QuerySet[Card]:
        cards = cards_visible_to(self.request.user).select_related("professional", "order")
        return cards.prefetch_related("certificates").order_by("-id")
