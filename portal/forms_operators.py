"""The operators' forms: the directory search, a registry upload, an order on a holder's behalf, a comment
on an order, a station's low-stock threshold."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from orders.models import Order
from registry.models import CardType, Exercise, Professional
from registry.search import SORT_CHOICES

INPUT = {"class": "fr-input"}
SELECT = {"class": "fr-select"}


class DirectoryForm(forms.Form):
    q = forms.CharField(
        label=_("Name, RPPS, ADELI or card number"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={**INPUT, "type": "search", "autocomplete": "off"}),
    )
    sort = forms.ChoiceField(
        label=_("Sort by"), required=False, choices=SORT_CHOICES, widget=forms.Select(attrs=SELECT)
    )


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Extraction file"),
        help_text=_("A PS_LibreAcces_Personne_activite extraction: .txt, .csv or .zip."),
        widget=forms.ClearableFileInput(attrs={"class": "fr-upload", "accept": ".txt,.csv,.zip"}),
    )
    full = forms.BooleanField(
        label=_("Full extraction"),
        help_text=_("The professionals it no longer lists are marked inactive (their cards revoked)."),
        required=False,
    )
    force = forms.BooleanField(
        label=_("Force the import"),
        help_text=_(
            "Only for a full extraction refused because it strikes off too many professionals: a second "
            "ANS operator must approve it first."
        ),
        required=False,
    )
    approval = forms.IntegerField(
        label=_("Approval number"),
        help_text=_("Once the forced import is approved, the number of the approved request."),
        required=False,
        min_value=1,
        widget=forms.NumberInput(attrs=INPUT),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("force") and not data.get("full"):
            self.add_error("force", _("Only a full extraction may be forced."))
        if data.get("approval") and not data.get("force"):
            self.add_error("approval", _("An approval number goes with a forced import."))
        return data


class OnBehalfOrderForm(forms.Form):
    """A first card (or a CPF) for one of the person's exercises."""

    exercise = forms.ModelChoiceField(
        label=_("Exercise"),
        queryset=Exercise.objects.none(),
        empty_label=None,
        widget=forms.Select(attrs=SELECT),
    )
    card_type = forms.ChoiceField(
        label=_("Card"),
        choices=[(CardType.CPS.value, CardType.CPS.label), (CardType.CPF.value, CardType.CPF.label)],
        widget=forms.Select(attrs=SELECT),
    )
    kind = forms.ChoiceField(
        label=_("Kind of order"),
        choices=[(k.value, k.label) for k in (Order.Kind.FIRST, Order.Kind.RENEWAL, Order.Kind.UPDATE)],
        widget=forms.Select(attrs=SELECT),
    )

    def __init__(self, *args: Any, person: Professional, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["exercise"]
        field.queryset = person.exercises.filter(is_active=True).select_related("profession")
        field.label_from_instance = lambda exercise: exercise.profession.label


class CommentForm(forms.Form):
    text = forms.CharField(
        label=_("Comment"),
        max_length=2000,
        widget=forms.Textarea(attrs={"class": "fr-input", "rows": 3}),
    )
    visible_to_holder = forms.BooleanField(
        label=_("Also show it to the holder"),
        help_text=_("Otherwise only the operators see it."),
        required=False,
    )


class StockThresholdForm(forms.Form):
    threshold = forms.IntegerField(
        label=_("Low-stock threshold"), min_value=0, max_value=100_000, widget=forms.NumberInput(attrs=INPUT)
    )
