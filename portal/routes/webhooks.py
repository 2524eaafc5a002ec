"""ANS's webhook pages: the relying parties' subscriptions (created with their signing secret shown once,
deactivated) and the messages sent to them (state, attempts, last error; a failed one sent again).

Every change goes through ``notifications.webhooks`` (audited there); ANS operators only, 403 for the rest.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from core.errors import InvalidInput
from core.roles import Role
from core.web import for_roles
from notifications import webhooks
from notifications.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from registry.models import Account


class SubscriptionForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Relying party"),
        max_length=200,
        widget=forms.TextInput(attrs={"class": "fr-input"}),
    )
    url = forms.CharField(
        label=gettext_lazy("Endpoint address"),
        help_text=gettext_lazy("https://…, where the messages are posted (redirects are not followed)."),
        max_length=500,
        widget=forms.URLInput(attrs={"class": "fr-input", "autocomplete": "off"}),
    )
    events = forms.MultipleChoiceField(
        label=gettext_lazy("Events"), choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple
    )


STATE_FILTERS = {"": None, **{state: state for state in WebhookDelivery.State.values}}


@never_cache  # the page that shows a new secret must never be kept by a cache
@for_roles(Role.ANS_OPERATOR)
def subscriptions(request: HttpRequest, account: Account) -> HttpResponse:
    """The subscriptions, and the form that adds one; its secret is shown on this answer only."""
    form = SubscriptionForm(request.POST or None)
    created: tuple[WebhookSubscription, str] | None = None
    if request.method == "POST" and form.is_valid():
        try:
            created = webhooks.subscription_create(actor=request.user, **form.cleaned_data)
            form = SubscriptionForm()
        except InvalidInput as error:
            form.add_error(error.field if error.field in form.fields else None, str(error.message))
    context = {
        "form": form,
        "created": created[0] if created else None,
        "secret": created[1] if created else "",
        "subscriptions": [
            _labelled(s) for s in WebhookSubscription.objects.order_by("-active", "name", "id")[:500]
        ],
        "failed": WebhookDelivery.objects.filter(state=WebhookDelivery.State.FAILED).count(),
    }
    return render(request, "portal/webhooks.html", context)


def _labelled(subscription: WebhookSubscription) -> WebhookSubscription:
    """The events in the reader's language (the codes are the wire's)."""
    labels = dict(WebhookEvent.choices)
    subscription.event_labels = [str(labels.get(event, event)) for event in subscription.events]  # type: ignore[attr-defined]
    return subscription


@require_POST
@for_roles(Role.ANS_OPERATOR)
def subscription_deactivate(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    subscription = get_object_or_404(WebhookSubscription, pk=pk)
    if webhooks.subscription_deactivate(subscription=subscription, actor=request.user):
        messages.success(request, _("%(name)s receives no more messages.") % {"name": subscription.name})
    return redirect("portal:webhooks")


@for_roles(Role.ANS_OPERATOR)
def deliveries(request: HttpRequest, account: Account) -> HttpResponse:
    """The messages, newest first; ``state`` and ``subscription`` filter them."""
    state = request.GET.get("state", "")
    rows = WebhookDelivery.objects.select_related("subscription").defer("payload").order_by("-id")
    if STATE_FILTERS.get(state):
        rows = rows.filter(state=state)
    subscription = _subscription_filter(request)
    if subscription is not None:
        rows = rows.filter(subscription=subscription)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    query = "&".join(
        f"{key}={value}"
        for key, value in (("state", state), ("subscription", request.GET.get("subscription", "")))
        if value and (key != "state" or STATE_FILTERS.get(value))
    )
    context: dict[str, Any] = {
        "page": page,
        "pages": page.paginator.get_elided_page_range(page.number),
        "query": query,
        "state": state if STATE_FILTERS.get(state) else "",
        "states": WebhookDelivery.State.choices,
        "subscription": subscription,
    }
    return render(request, "portal/webhooks_deliveries.html", context)


def _subscription_filter(request: HttpRequest) -> WebhookSubscription | None:
    raw = request.GET.get("subscription", "")
    if not raw.isdigit() or len(raw) > 18:
        return None
    return WebhookSubscription.objects.filter(pk=int(raw)).first()


@require_POST
@for_roles(Role.ANS_OPERATOR)
def delivery_retry(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    delivery = get_object_or_404(WebhookDelivery.objects.select_related("subscription"), pk=pk)
    if webhooks.delivery_retry(delivery=delivery, actor=request.user):
        messages.success(request, _("Message %(id)s will be sent again.") % {"id": delivery.message_id})
    else:
        messages.info(
            request, _("Message %(id)s has not failed: nothing to send again.") % {"id": delivery.message_id}
        )
    return redirect(f"{reverse('portal:webhook-deliveries')}?state=failed")


urlpatterns: list[URLPattern] = [
    path("backoffice/webhooks/", subscriptions, name="webhooks"),
    path("backoffice/webhooks/<int:pk>/deactivate/", subscription_deactivate, name="webhook-deactivate"),
    path("backoffice/webhooks/deliveries/", deliveries, name="webhook-deliveries"),
    path("backoffice/webhooks/deliveries/<int:pk>/retry/", delivery_retry, name="webhook-retry"),
]
