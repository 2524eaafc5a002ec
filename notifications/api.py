"""REST API of in-app messages: a holder lists their own messages and marks them read.

Scoping is the service's ``inbox()``: another person's message is simply not in the queryset, so it answers
404 (not 403), and nobody learns which message numbers exist.
"""

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import ApiView, QueryBooleanField, error_responses
from core.roles import account_of
from registry.models import Professional

from . import services
from .models import Notification
from .rendering import render_notification


class MessageSerializer(serializers.ModelSerializer):
    subject = serializers.SerializerMethodField()
    body = serializers.SerializerMethodField()
    is_read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "event", "language", "subject", "body", "created_at", "read_at", "is_read"]
        read_only_fields = fields

    def get_subject(self, obj: Notification) -> str:
        return render_notification(obj).subject

    def get_body(self, obj: Notification) -> str:
        return render_notification(obj).body

    def get_is_read(self, obj: Notification) -> bool:
        return obj.read_at is not None


class MarkedReadSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="Messages marked read by this call.")


class UnreadCountSerializer(serializers.Serializer):
    unread = serializers.IntegerField()


_UNREAD = OpenApiParameter(
    "unread", OpenApiTypes.BOOL, description="Only unread (true) or read (false) messages: true or false."
)


_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Message id.")


class MessageFilterSerializer(serializers.Serializer):
    unread = QueryBooleanField(required=False)


@extend_schema_view(
    list=extend_schema(
        summary="List my in-app messages, newest first",
        parameters=[_UNREAD],
        responses={200: MessageSerializer(many=True), **error_responses(400, 401, 403)},
    ),
    retrieve=extend_schema(
        summary="One of my in-app messages",
        parameters=[_ID],
        responses={200: MessageSerializer, **error_responses(401, 403, 404)},
    ),
)
class MessageViewSet(ApiView, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = MessageSerializer
    queryset = Notification.objects.none()
    lookup_value_regex = "[0-9]+"  # an id (the path's type in the schema)

    def get_object(self) -> Notification:
        self.check_id(self.kwargs["pk"])  # one larger than a bigint is not found, without a query
        return super().get_object()

    def get_queryset(self) -> QuerySet[Notification]:
        messages = services.inbox(professional=_professional(self.request))
        if self.action == "list":
            query = MessageFilterSerializer(data=self.request.query_params.dict())
            query.is_valid(raise_exception=True)  # "unread=maybe" is a 400, not "read"
            if "unread" in query.validated_data:
                messages = messages.filter(read_at__isnull=query.validated_data["unread"])
        return messages.select_related("recipient")

    @extend_schema(
        summary="Mark one of my messages read (reading it again keeps the first time)",
        parameters=[_ID],
        request=None,
        responses={200: MessageSerializer, **error_responses(401, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str | None = None) -> Response:
        message = services.notification_mark_read(notification=self.get_object())
        return Response(MessageSerializer(message).data)

    @extend_schema(
        summary="Mark all my messages read",
        request=None,
        responses={200: MarkedReadSerializer, **error_responses(401, 403)},
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        professional = _professional(request)
        marked = services.inbox_mark_all_read(professional=professional) if professional else 0
        return Response(MarkedReadSerializer({"marked": marked}).data)

    @extend_schema(
        summary="How many of my messages are unread",
        responses={200: UnreadCountSerializer, **error_responses(401, 403)},
    )
    @action(detail=False, methods=["get"], url_path="unread-count")
    def unread_count(self, request: Request) -> Response:
        count = services.inbox(professional=_professional(request)).filter(read_at__isnull=True).count()
        return Response(UnreadCountSerializer({"unread": count}).data)


def _professional(request: Request) -> Professional | None:
    """The person the signed-in user is (their Account's professional), or None."""
    account = account_of(request.user)
    return account.professional if account is not None else None
