"""The form of the issuance policies page: one row of the table (an authority's row or a profession's),
saved or removed."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from lifecycle.models import IssuancePolicy
from registry.models import CardType


class PolicyForm(forms.Form):
    card_type = forms.ChoiceField(label=_("Card type"), choices=CardType.choices)
    trigger = forms.ChoiceField(label=_("Event"), choices=IssuancePolicy.Trigger.choices)
    profession = forms.CharField(label=_("Profession"), required=False, max_length=4)
    mode = forms.ChoiceField(label=_("Mode"), choices=IssuancePolicy.Mode.choices, required=False)
    approve = forms.BooleanField(label=_("Approved at once"), required=False)
    action = forms.ChoiceField(choices=[("save", "save"), ("remove", "remove")], required=False)

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("action") != "remove" and not data.get("mode"):
            self.add_error("mode", _("Choose off, proposed or automatic."))
        return data
