"""REST API of the codes without a stored PUK (``lifecycle.codes``): a codes letter asked for again, and
the help-desk unblock. Both are decided by a second person through the approvals API
(``/api/v1/approvals/``); these endpoints open the requests and, for the help desk, show the response once.

No endpoint takes or answers a PIN or a PUK: the re-issued letter goes by post, and the help-desk response
is good for one card and one challenge only.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import ApiErrorSerializer, ApiView, error_responses
from core.roles import Role, role_of
from pki import unblock

from . import codes, helpdesk
from .errors import UnblockRequestNotFound
from .models import CodesReissue, UnblockRequest


class CodesReissueInputSerializer(serializers.Serializer):
    password = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="A holder: their account password, typed again (the identity check).",
    )
    identity_check = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=1000,
        help_text="An operator: how they checked the holder's identity (required, 10 characters or more).",
    )


class CodesReissueSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    card_number = serializers.CharField(source="card.display_number")
    approval_request = serializers.IntegerField(source="approval_id", allow_null=True)
    approval_state = serializers.CharField(source="approval.state", default=None, allow_null=True)

    class Meta:
        model = CodesReissue
        fields = [
            "id",
            "reference",
            "card",
            "card_number",
            "requested_via",
            "fee",
            "approval_request",
            "approval_state",
            "created_at",
            "approved_at",
            "produced_at",
        ]


class UnblockInputSerializer(serializers.Serializer):
    challenge = serializers.CharField(
        max_length=120, help_text="What `cpx-card helpdesk` shows the holder (dashes and spaces ignored)."
    )
    identity_check = serializers.CharField(
        min_length=codes.MIN_IDENTITY_CHECK,
        max_length=1000,
        help_text="How the caller's identity was checked (10 characters or more).",
    )


class UnblockRequestSerializer(serializers.ModelSerializer):
    card_number = serializers.CharField(source="card.display_number")
    challenge = serializers.SerializerMethodField()
    state = serializers.CharField(read_only=True)
    approval_request = serializers.IntegerField(source="approval_id", allow_null=True)

    class Meta:
        model = UnblockRequest
        fields = [
            "id",
            "card",
            "card_number",
            "challenge",
            "state",
            "approval_request",
            "requested_by",
            "created_at",
            "approved_at",
            "answered_at",
            "shown_at",
        ]

    def get_challenge(self, row: UnblockRequest) -> str:
        return unblock.display_challenge(row.challenge)


class UnblockResponseSerializer(serializers.Serializer):
    response = serializers.CharField(help_text="8 digits the holder types into `cpx-card helpdesk`.")
    display = serializers.CharField(help_text="The same, as read out: `1234 5678`.")


def _errors(*codes_: int) -> dict[int, OpenApiResponse]:
    own = {
        409: OpenApiResponse(ApiErrorSerializer, description="Conflict with the card's or request's state."),
        410: OpenApiResponse(ApiErrorSerializer, description="The response was shown already, or expired."),
    }
    shared = error_responses(*[c for c in codes_ if c not in own])
    return {**shared, **{c: own[c] for c in codes_ if c in own}}


class CardCodesReissueView(ApiView):
    @extend_schema(
        operation_id="card_codes_reissue",
        summary="Ask for a live card's codes letter again",
        description=(
            "By the holder (`password`: their account password, typed again) or by an operator on their "
            "behalf (`identity_check`: what they checked). A second person approves it through "
            "`/api/v1/approvals/`; the letter, with the PUK alone (no PIN: the holder sets a new one with "
            "`cpx-card unblock`), is then printed and posted like the first. Fee: the platform's policy "
            "(`fee`, null when free)."
        ),
        request=CodesReissueInputSerializer,
        responses={201: CodesReissueSerializer, **_errors(400, 401, 403, 404, 409)},
        tags=["lifecycle"],
    )
    def post(self, request: Request, card_id: int) -> Response:
        card = codes.card_for_codes(actor=request.user, card_id=self.check_id(card_id))  # who, first
        data = self.validated(CodesReissueInputSerializer, request.data)
        if role_of(request.user) == Role.HOLDER:
            check = codes.holder_identity_check(request._request, data.get("password", ""))
        else:
            check = data.get("identity_check", "")
        reissue = codes.codes_reissue_request(card=card, actor=request.user, identity_check=check)
        return Response(CodesReissueSerializer(reissue).data, status=status.HTTP_201_CREATED)


class CardUnblockRequestView(ApiView):
    @extend_schema(
        operation_id="card_unblock_request",
        summary="Open a help-desk unblock for the challenge the holder reads out",
        description=(
            "Operators (ANS's help desk, the card's authority). The challenge is validated (400 "
            "`bad_challenge`) and one-time (409 `challenge_used`). A second operator approves the request "
            "through `/api/v1/approvals/`; the response is then computed by the signing service and shown "
            "once to the requesting operator (`unblock-requests/{id}/response/`)."
        ),
        request=UnblockInputSerializer,
        responses={201: UnblockRequestSerializer, **_errors(400, 401, 403, 404, 409)},
        tags=["lifecycle"],
    )
    def post(self, request: Request, card_id: int) -> Response:
        card = helpdesk.card_for_unblock(actor=request.user, card_id=self.check_id(card_id))  # who, first
        data = self.validated(UnblockInputSerializer, request.data)
        row = helpdesk.unblock_request_open(
            card=card,
            actor=request.user,
            challenge=data["challenge"],
            identity_check=data["identity_check"],
        )
        return Response(UnblockRequestSerializer(row).data, status=status.HTTP_201_CREATED)


def _visible_request(request: Request, pk: int) -> UnblockRequest:
    """The requester, and the operators who may act on the card, see the request (not its response)."""
    row = UnblockRequest.objects.select_related("card", "approval").filter(pk=pk).first()
    if row is None or not (
        row.requested_by_id == request.user.pk or codes.operator_may_act(request.user, row.card)
    ):
        raise UnblockRequestNotFound()
    return row


class UnblockRequestView(ApiView):
    @extend_schema(
        operation_id="unblock_request_show",
        summary="A help-desk unblock request: where it stands",
        responses={200: UnblockRequestSerializer, **_errors(401, 403, 404)},
        tags=["lifecycle"],
    )
    def get(self, request: Request, request_id: int) -> Response:
        return Response(UnblockRequestSerializer(_visible_request(request, self.check_id(request_id))).data)


class UnblockResponseView(ApiView):
    @extend_schema(
        operation_id="unblock_response_reveal",
        summary="The response, once, to the operator who opened the request",
        description=(
            "Read it to the holder, who types it into `cpx-card helpdesk`. It is purged as it is shown "
            "(410 `response_gone` after), refused without the second operator's approval (403 "
            "`approval_required`), 409 `response_not_ready` while the signing service computes it."
        ),
        request=None,
        responses={200: UnblockResponseSerializer, **_errors(401, 403, 404, 409, 410)},
        tags=["lifecycle"],
    )
    def post(self, request: Request, request_id: int) -> Response:
        row = _visible_request(request, self.check_id(request_id))
        response = helpdesk.unblock_response_reveal(unblock_request=row.pk, actor=request.user)
        body = {"response": response, "display": unblock.display_response(response)}
        answer = Response(UnblockResponseSerializer(body).data)
        answer["Cache-Control"] = "no-store"  # shown once: no copy in any cache
        return answer
