"""The card status API for relying parties: what the national directory publishes of a smart card.

``GET /api/v1/card-status/<card number>`` and ``GET /api/v1/card-status/?holder=<national id or RPPS>``.
Only integrator clients (OAuth 2.0 client credentials, ``core.auth``) whose token carries the scope
``card-status`` may read it: a missing or unknown token is 401, a token without the scope 403, a session (a
person in the portal) 401. Limited per client like the other APIs (``CPX_RATE_LIMITS["card-status"]``).

The answer is the directory's, nothing more: type, number, validity, state and, for an opposed card, the
day of its opposition. Never the holder's name, address or situation.
"""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from cards.models import Card, CardEvent
from core.api import ApiView, error_responses
from core.auth import CARD_STATUS_SCOPE, IntegratorTokenAuthentication

MAX_CARDS = 100  # a holder has a handful of cards; the answer is bounded whatever the history


def card_statuses() -> QuerySet[Card]:
    """Every card with the time of its opposition (its ``opposed`` event), if any."""
    opposed = CardEvent.objects.filter(card=OuterRef("pk"), kind=Card.State.OPPOSED).order_by("-at")
    return (
        Card.objects.select_related("professional")
        .only("number", "card_type", "valid_from", "valid_until", "state", "professional__national_id")
        .annotate(opposed_at=Subquery(opposed.values("at")[:1]))
    )


def card_number(value: str) -> str:
    """A card number as stored: its printed form ``1234567890/123`` (and a trailing slash) accepted too."""
    return value.strip().replace("/", "").replace(" ", "")


class CardStatusSerializer(serializers.Serializer):
    card_type = serializers.CharField()
    number = serializers.CharField()
    valid_from = serializers.DateField()
    valid_until = serializers.DateField()
    state = serializers.CharField()
    opposed_on = serializers.SerializerMethodField(
        help_text="The day of the opposition, for an opposed card."
    )
    holder = serializers.CharField(source="professional.national_id", help_text="The holder's national id.")

    def get_opposed_on(self, card: Any) -> str | None:
        at = getattr(card, "opposed_at", None)
        return timezone.localtime(at).date().isoformat() if at and card.state == Card.State.OPPOSED else None


class CardStatusListSerializer(serializers.Serializer):
    results = CardStatusSerializer(many=True)


class CardStatusApi(ApiView):
    # Integrator tokens only, with their own scope: a person's session is not a relying party.
    authentication_classes: Any = [IntegratorTokenAuthentication]
    required_scope = CARD_STATUS_SCOPE


class CardStatusView(CardStatusApi):
    @extend_schema(
        operation_id="card_status_show",
        summary="The status of one smart card, as the national directory publishes it",
        responses={200: CardStatusSerializer, **error_responses(401, 403, 404)},
        tags=["card status"],
    )
    def get(self, request: Request, number: str) -> Response:
        card = card_statuses().filter(number=card_number(number)).first()
        if card is None:
            raise Http404
        return Response(CardStatusSerializer(card).data)


class CardStatusListView(CardStatusApi):
    @extend_schema(
        operation_id="card_status_list",
        summary="The status of a holder's smart cards, newest first",
        parameters=[
            OpenApiParameter(
                "holder", OpenApiTypes.STR, required=True, description="The holder's national id or RPPS."
            )
        ],
        responses={200: CardStatusListSerializer, **error_responses(400, 401, 403)},
        tags=["card status"],
    )
    def get(self, request: Request) -> Response:
        holder = request.query_params.get("holder", "").strip()
        if not holder or len(holder) > 32:
            raise exceptions.ValidationError({"holder": [_("Give the holder's national id or RPPS.")]})
        cards = (
            card_statuses()
            .filter(Q(professional__national_id=holder) | Q(professional__rpps=holder))
            .order_by("-valid_from", "-id")[:MAX_CARDS]
        )
        return Response({"results": CardStatusSerializer(cards, many=True).data})
