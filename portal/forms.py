"""The portal's forms. They validate input only; every rule of the domain is the services' job (a form
that shows a rule to the person, a minimum length, the methods offered, reads it from the service)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from lifecycle.models import Opposition
from orders.models import Order
from orders.payment_services import OPERATOR_METHODS
from orders.services import REJECTION_REASON_MIN_LENGTH
from registry.models import CardType


class AccessibleForm(forms.Form):
    """Ties each field to its help and error texts for screen readers, and marks invalid fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if field.help_text:
                field.widget.attrs["aria-describedby"] = f"{self[name].auto_id}_help"

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["aria-invalid"] = "true"
                ids = widget.attrs.get("aria-describedby", "").split()
                ids.append(f"{self[name].auto_id}_errors")
                widget.attrs["aria-describedby"] = " ".join(dict.fromkeys(ids))


class DeclareForm(AccessibleForm):
    reason = forms.ChoiceField(
        label=_("What happened to the card?"),
        choices=Order.ReplacementReason.choices,
        widget=forms.RadioSelect,
    )


class OperatorDeclareForm(DeclareForm):
    """An operator declares for the holder, who called or sent form 501."""

    channel = forms.ChoiceField(label=_("How did the holder declare it?"), widget=forms.RadioSelect)

    def __init__(self, *args: Any, channels: frozenset[str], **kwargs: Any) -> None:
        """``channels``: those the declaring operator may use (``lifecycle.opposition.declare_channels``)."""
        super().__init__(*args, **kwargs)
        field: Any = self.fields["channel"]
        field.choices = [(c.value, c.label) for c in Opposition.Channel if c.value in channels]


class RejectForm(AccessibleForm):
    reason = forms.CharField(
        label=_("Reason for the rejection"),
        help_text=_("The holder reads this reason in the notice of rejection."),
        min_length=REJECTION_REASON_MIN_LENGTH,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class CancelForm(AccessibleForm):
    reason = forms.CharField(label=_("Reason (optional)"), required=False, max_length=1000)


class PaymentForm(AccessibleForm):
    method = forms.ChoiceField(
        label=_("Payment method"),
        choices=[(method.value, method.label) for method in OPERATOR_METHODS],
    )
    amount = forms.DecimalField(label=_("Amount received (EUR)"), min_value=0, max_digits=8, decimal_places=2)
    reference = forms.CharField(
        label=_("Reference"), help_text=_("Transfer reference or cheque number."), max_length=100
    )


class HolderSearchForm(forms.Form):
    q = forms.CharField(label=_("Identifier or name"), required=False, max_length=100)


class QueueFilterForm(forms.Form):
    q = forms.CharField(label=_("Identifier or name"), required=False, max_length=100)
    state = forms.ChoiceField(
        label=_("State"), required=False, choices=[("", _("All"))] + Order.State.choices
    )
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=[("", _("All"))] + Order.Kind.choices)
    card_type = forms.ChoiceField(
        label=_("Card type"), required=False, choices=[("", _("All"))] + list(CardType.choices)
    )


class ShippingForm(AccessibleForm):
    carrier = forms.CharField(label=_("Carrier"), max_length=60)
    reference = forms.CharField(
        label=_("Batch reference"), help_text=_("The carrier's manifest number."), max_length=60
    )
