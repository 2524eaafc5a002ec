"""REST API of the card lifecycle: opposition, activation, renewal links, shipping batches.

Views authenticate, validate and call one service. Domain errors are answered by the platform's one
handler (``core.api``): JSON ``{"code", "message"}`` (plus ``fields`` for invalid input) with the error's
status; a card the caller may not see is 404.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from cards.models import Card
from cards.scoping import card_for
from core.api import MAX_ID, ApiErrorSerializer, ApiView, BooleanField, Pagination, error_responses, int_param
from orders.models import Order

from . import activation, errors, opposition, renewal, shipping
from .models import AutoRenewalPolicy, Opposition, Shipment, ShippingBatch

# --- serializers -----------------------------------------------------------------------------------------


class OppositionInputSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=Order.ReplacementReason.choices)
    channel = serializers.ChoiceField(choices=Opposition.Channel.choices, default=Opposition.Channel.ONLINE)


class OppositionSerializer(serializers.ModelSerializer):
    card_state = serializers.CharField(source="card.state")
    card_number = serializers.CharField(source="card.display_number")

    class Meta:
        model = Opposition
        fields = [
            "id",
            "card",
            "card_number",
            "card_state",
            "reason",
            "channel",
            "declared_at",
            "declared_by_role",
            "replacement_order_id",
            "revoked_certificates",
        ]


class ActivationChallengeSerializer(serializers.Serializer):
    challenge = serializers.CharField(
        help_text="The text to sign with the card: `cpx-card-activation|<card number>|<nonce>`."
    )
    expires_at = serializers.DateTimeField()
    command = serializers.CharField(
        help_text="What the holder runs on their computer: `cpx-card sign --card <number> '<challenge>'`."
    )


class ActivationInputSerializer(serializers.Serializer):
    challenge = serializers.CharField(
        required=False, max_length=200, help_text="The challenge given by `activation/challenge/`."
    )
    signature = serializers.CharField(
        required=False,
        max_length=4096,
        help_text=(
            "The output of `cpx-card sign`: the card's signature of the challenge (RSA PKCS#1 v1.5, "
            "SHA-256), standard base64; spaces and line breaks are ignored."
        ),
    )
    confirm_receipt = BooleanField(
        required=False,
        default=False,
        help_text="Activate by confirming receipt, without proof: only where the card's authority allows it.",
    )

    def validate(self, data: dict) -> dict:
        proving = "challenge" in data or "signature" in data
        if proving == bool(data["confirm_receipt"]):
            raise serializers.ValidationError(
                "Send either the challenge and its signature, or confirm_receipt: true."
            )
        if proving and not ("challenge" in data and "signature" in data):
            missing = "signature" if "challenge" in data else "challenge"
            raise serializers.ValidationError({missing: ["This field is required with a proof."]})
        return data


class CardStateSerializer(serializers.ModelSerializer):
    card_number = serializers.CharField(source="display_number")

    class Meta:
        model = Card
        fields = ["id", "card_number", "card_type", "state", "valid_until"]


class RenewalLinkSerializer(serializers.Serializer):
    card_number = serializers.CharField()
    card_type = serializers.CharField()
    expires_on = serializers.DateField()
    threshold = serializers.IntegerField()
    used = serializers.BooleanField()
    renewal_order_id = serializers.IntegerField(allow_null=True)


class RenewalOrderSerializer(serializers.Serializer):
    order_id = serializers.IntegerField()
    state = serializers.CharField()
    kind = serializers.CharField()


def _text(**kwargs: object) -> serializers.RegexField:
    """Required text with at least one visible character (the schema's ``pattern``), as the service
    requires: spaces alone are refused, not stored."""
    return serializers.RegexField(VISIBLE_TEXT, max_length=60, **kwargs)  # type: ignore[arg-type]


# At least one visible character, and no NUL (which PostgreSQL refuses in text, and core.parsers too).
VISIBLE_TEXT = r"^[^\x00]*[^\x00\s][^\x00]*$"


class ShipmentLineSerializer(serializers.Serializer):
    card = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    tracking_reference = _text()


class ShippingBatchInputSerializer(serializers.Serializer):
    carrier = _text()
    reference = _text(help_text="The batch's reference, unique: a second batch with it answers 409.")
    # A ListField, not many=True: its min_length is what the schema declares (minItems).
    cards = serializers.ListField(
        child=ShipmentLineSerializer(),
        allow_empty=False,
        min_length=1,
        help_text="At least one card, each once.",
    )


class ShipmentSerializer(serializers.ModelSerializer):
    card_number = serializers.CharField(source="card.display_number")

    class Meta:
        model = Shipment
        fields = ["card", "card_number", "tracking_reference", "pin_release_on", "pin_released_at"]


class ShippingBatchSerializer(serializers.ModelSerializer):
    shipments = ShipmentSerializer(many=True, read_only=True)

    class Meta:
        model = ShippingBatch
        fields = ["id", "carrier", "reference", "shipped_at", "shipments"]


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The shared 400/401/403/404 answers, plus the lifecycle's own conflicts."""
    own = {
        409: OpenApiResponse(ApiErrorSerializer, description="Conflict with the card's or link's state."),
        410: OpenApiResponse(ApiErrorSerializer, description="The link has expired."),
    }
    shared = error_responses(*[c for c in codes if c not in own])
    return {**shared, **{c: own[c] for c in codes if c in own}}


# --- input ---------------------------------------------------------------------------------------------

# The limit and offset a list paged here (not by a pagination class) reads, with the bounds it enforces.
PAGE_PARAMETERS = [
    OpenApiParameter(
        name,
        {"type": "integer", "minimum": Pagination.BOUNDS[name][0], "maximum": Pagination.BOUNDS[name][1]},
        OpenApiParameter.QUERY,
        description=description,
    )
    for name, description in (
        ("limit", "Number of results to return per page."),
        ("offset", "The initial index from which to return the results."),
    )
]

# --- cards -----------------------------------------------------------------------------------------------


class CardOppositionView(ApiView):
    @extend_schema(
        operation_id="card_declare_opposition",
        summary="Declare a card lost, stolen, damaged, defective or not received",
        description=(
            "Blocks the card at once: opposed (lost, stolen, not received) or revoked (damaged, defective), "
            "certificates revoked and a new CRL published, a replacement order created. Final: a second "
            "declaration answers 409 `already_opposed` and changes nothing. Holders and structure managers "
            "declare `online`; operators record `phone` calls and `form_501` letters."
        ),
        request=OppositionInputSerializer,
        responses={201: OppositionSerializer, **_errors(400, 401, 403, 404, 409)},
        tags=["lifecycle"],
    )
    def post(self, request: Request, card_id: int) -> Response:
        card = card_for(actor=request.user, card_id=self.check_id(card_id))
        opposition.opposition_check(actor=request.user, card=card)  # who may, before what they send
        data = self.validated(OppositionInputSerializer, request.data)
        declared = opposition.card_declare_opposition(
            card=card, reason=data["reason"], channel=data["channel"], actor=request.user
        )
        declared.card.refresh_from_db()
        return Response(OppositionSerializer(declared).data, status=status.HTTP_201_CREATED)


class CardActivationChallengeView(ApiView):
    @extend_schema(
        operation_id="card_activation_challenge",
        summary="A one-time challenge for the holder to sign with a shipped card",
        description=(
            "The holder signs it with the card (`command`: the card agent asks for the PIN on the holder's "
            "computer, never here) and sends the signature to `activation/`. Valid once, until `expires_at`, "
            "for a few wrong signatures; a new challenge closes the card's earlier ones."
        ),
        request=None,
        responses={201: ActivationChallengeSerializer, **_errors(401, 403, 404, 409)},
        tags=["lifecycle"],
    )
    def post(self, request: Request, card_id: int) -> Response:
        card = card_for(actor=request.user, card_id=self.check_id(card_id))
        challenge = activation.activation_challenge(card=card, actor=request.user)
        body = {
            "challenge": challenge.text,
            "expires_at": challenge.expires_at,
            "command": activation.sign_command(challenge),
        }
        return Response(ActivationChallengeSerializer(body).data, status=status.HTTP_201_CREATED)


class CardActivationView(ApiView):
    @extend_schema(
        operation_id="card_activate",
        summary="Activate a received card",
        description=(
            "By proof of possession: a challenge from `activation/challenge/` and the card's signature of it "
            "(`cpx-card sign`), checked with the card's authentication certificate (current, not revoked). "
            "Or, only where the card's authority allows it, by `confirm_receipt: true` (403 "
            "`receipt_confirmation_not_allowed` elsewhere). The card's previous card for the same exercise "
            "is revoked."
        ),
        request=ActivationInputSerializer,
        responses={200: CardStateSerializer, **_errors(400, 401, 403, 404, 409)},
        tags=["lifecycle"],
    )
    def post(self, request: Request, card_id: int) -> Response:
        card = card_for(actor=request.user, card_id=self.check_id(card_id))
        activation.activation_check(actor=request.user, card=card)  # who may, before what they send
        data = self.validated(ActivationInputSerializer, request.data)
        if data["confirm_receipt"]:
            card = activation.card_confirm_receipt(card=card, actor=request.user)
        else:
            card = activation.card_activate_with_proof(
                card=card, actor=request.user, challenge=data["challenge"], signature=data["signature"]
            )
        return Response(CardStateSerializer(card).data)


# --- renewal links ---------------------------------------------------------------------------------------


class RenewalLinkTokenSerializer(serializers.Serializer):
    token = serializers.CharField(
        max_length=300,
        trim_whitespace=False,
        help_text="The token of the reminder's link: what follows `#` in `…/renew/#<token>`.",
    )


class RenewalLinkApiView(ApiView):
    # The signed token is the credential: no sign-in needed (a signed-in holder is recorded as the order's
    # creator). It travels in the body of a POST, never in a URL: URLs end up in access logs, proxies and
    # browser histories (the reminder's link carries it after `#`, which the browser never sends).
    permission_classes = [AllowAny]

    def token(self, request: Request) -> str:
        return str(self.validated(RenewalLinkTokenSerializer, request.data)["token"])


class RenewalLinkPreviewView(RenewalLinkApiView):
    @extend_schema(
        operation_id="renewal_link_show",
        summary="What a renewal link would renew (no side effect)",
        description=(
            "The token in the body, never in a URL (the old `GET renewal-links/{token}/` answers 410 "
            "`renewal_link_moved`). A token the platform did not sign names no link: 404 "
            "`renewal_link_invalid`; an expired one 410 `renewal_link_expired`."
        ),
        request=RenewalLinkTokenSerializer,
        responses={200: RenewalLinkSerializer, **_errors(400, 404, 410)},
        tags=["lifecycle"],
    )
    def post(self, request: Request) -> Response:
        reminder = renewal.renewal_link_reminder(token=self.token(request))
        card = reminder.card
        return Response(
            RenewalLinkSerializer(
                {
                    "card_number": card.display_number,
                    "card_type": card.card_type,
                    "expires_on": card.valid_until,
                    "threshold": reminder.threshold,
                    "used": reminder.link_used_at is not None,
                    "renewal_order_id": reminder.renewal_order_id,
                }
            ).data
        )


class RenewalLinkConfirmView(RenewalLinkApiView):
    @extend_schema(
        operation_id="renewal_link_confirm",
        summary="Confirm the renewal: creates and submits the renewal order (once)",
        description=(
            "The token in the body, never in a URL (the old `POST renewal-links/{token}/` answers 410 "
            "`renewal_link_moved`). Works once: a second exchange answers 409 `renewal_link_used`; a "
            "token the platform did not sign 404 `renewal_link_invalid`; an expired link 410 "
            "`renewal_link_expired`."
        ),
        request=RenewalLinkTokenSerializer,
        responses={201: RenewalOrderSerializer, **_errors(400, 404, 409, 410)},
        tags=["lifecycle"],
    )
    def post(self, request: Request) -> Response:
        order = renewal.renewal_link_confirm(token=self.token(request), actor=request.user)
        body = {"order_id": order.pk, "state": order.state, "kind": order.kind}
        return Response(RenewalOrderSerializer(body).data, status=status.HTTP_201_CREATED)


# The old form, with the token in the URL path: every method answers 410 `renewal_link_moved`, whatever the
# token. Left out of the schema (an operation whose every answer is a refusal offers nothing to call); the
# exchange endpoints' descriptions say it.
LEGACY = extend_schema(exclude=True)


class RenewalLinkLegacyView(RenewalLinkApiView):
    # Refused before the token is looked at: a link that put it in a URL has already exposed it.
    @LEGACY
    def get(self, request: Request, token: str) -> Response:
        raise errors.RenewalLinkMoved()

    @LEGACY
    def post(self, request: Request, token: str) -> Response:
        raise errors.RenewalLinkMoved()


# --- shipping batches ------------------------------------------------------------------------------------


class ShippingBatchListView(ApiView):
    @extend_schema(
        operation_id="shipping_batch_list",
        summary="Shipping batches, newest first (ANS operators, auditors)",
        parameters=PAGE_PARAMETERS,
        responses={
            200: inline_serializer(
                "ShippingBatchPage",
                {
                    "count": serializers.IntegerField(),
                    "results": ShippingBatchSerializer(many=True),
                },
            ),
            **_errors(401, 403),
        },
        tags=["lifecycle"],
    )
    def get(self, request: Request) -> Response:
        batches = shipping.shipping_batches_visible_to(request.user)
        limit = int_param(request, "limit", Pagination.default_limit, *Pagination.BOUNDS["limit"])
        offset = int_param(request, "offset", 0, *Pagination.BOUNDS["offset"])
        page = batches.order_by("-shipped_at", "-id")[offset : offset + limit]
        return Response({"count": batches.count(), "results": ShippingBatchSerializer(page, many=True).data})

    @extend_schema(
        operation_id="shipping_batch_create",
        summary="Record cards handed to the carrier",
        description="Each card → shipped, holder told; PIN mailers released a day later.",
        request=ShippingBatchInputSerializer,
        responses={201: ShippingBatchSerializer, **_errors(400, 401, 403, 404, 409)},
        tags=["lifecycle"],
    )
    def post(self, request: Request) -> Response:
        shipping.shipping_check(actor=request.user)  # who may, before what they send
        data = self.validated(ShippingBatchInputSerializer, request.data)
        lines = [shipping.ShipmentLine(line["card"], line["tracking_reference"]) for line in data["cards"]]
        batch = shipping.shipping_batch_create(
            actor=request.user, carrier=data["carrier"], reference=data["reference"], lines=lines
        )
        batch = shipping.shipping_batch_for(actor=request.user, batch_id=batch.pk)
        return Response(ShippingBatchSerializer(batch).data, status=status.HTTP_201_CREATED)


class ShippingBatchDetailView(ApiView):
    @extend_schema(
        operation_id="shipping_batch_show",
        summary="One shipping batch with its cards and tracking references",
        responses={200: ShippingBatchSerializer, **_errors(401, 403, 404)},
        tags=["lifecycle"],
    )
    def get(self, request: Request, batch_id: int) -> Response:
        batch = shipping.shipping_batch_for(actor=request.user, batch_id=self.check_id(batch_id))
        return Response(ShippingBatchSerializer(batch).data)


# --- automatic renewal ----------------------------------------------------------------------------------


class AutoRenewalPolicySerializer(serializers.ModelSerializer):
    authority = serializers.CharField(source="authority.code")
    profession = serializers.CharField(source="profession_id")
    profession_label = serializers.CharField(source="profession.label")

    class Meta:
        model = AutoRenewalPolicy
        fields = ["authority", "profession", "profession_label", "enabled", "created_at"]


class AutoRenewalInputSerializer(serializers.Serializer):
    enabled = BooleanField(help_text='`true` or `false` (a JSON boolean: `0`, `1` or `"yes"` are refused).')


class AutoRenewalPolicyListView(ApiView):
    # One row per profession of an Ordre (a few dozen at most, all Ordres together): the whole list, as
    # clients read it, so the schema must not declare the shared limit/offset page either.
    pagination_class = None

    @extend_schema(
        operation_id="auto_renewal_policy_list",
        summary="The Ordre's automatic-renewal choices (an operator sees their own Ordre's)",
        responses={200: AutoRenewalPolicySerializer(many=True), **_errors(401, 403)},
        tags=["lifecycle"],
    )
    def get(self, request: Request) -> Response:
        policies = renewal.auto_renewal_policies_for(request.user)
        return Response(AutoRenewalPolicySerializer(policies, many=True).data)


class AutoRenewalPolicyView(ApiView):
    @extend_schema(
        operation_id="auto_renewal_policy_set",
        summary="Turn automatic renewal on or off for one of the Ordre's professions",
        description=(
            "With it on, the daily scan orders the renewal itself when a card reaches the first reminder "
            "threshold, instead of waiting for the holder's click."
        ),
        parameters=[
            OpenApiParameter(
                "profession",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                pattern=r"^[0-9A-Za-z]{1,4}$",
                description="A profession code of your Ordre (TRE_G15), e.g. `10`.",
            )
        ],
        request=AutoRenewalInputSerializer,
        responses={200: AutoRenewalPolicySerializer, **_errors(400, 401, 403, 404)},
        tags=["lifecycle"],
    )
    def put(self, request: Request, profession: str) -> Response:
        found = renewal.auto_renewal_profession(actor=request.user, profession_code=profession)
        data = self.validated(AutoRenewalInputSerializer, request.data)
        policy = renewal.auto_renewal_set(
            actor=request.user, profession_code=found.pk, enabled=data["enabled"]
        )
        return Response(AutoRenewalPolicySerializer(policy).data)
