"""The holder's order forms. They validate input only: which cards may be ordered is
``orders.eligibility.first_cards_for``, read by the view and handed in as the choices."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from orders.eligibility import ExerciseEligibility
from orders.models import Order
from portal.forms import AccessibleForm


def choice_value(exercise_id: int, card_type: str) -> str:
    """One option of the first-card form: an exercise and the card ordered for it."""
    return f"{exercise_id}:{card_type}"


class FirstCardForm(AccessibleForm):
    """A first card (CPS or CPF) for one of the holder's exercises; only those that may be ordered now
    are offered."""

    choice = forms.ChoiceField(label=_("Which card do you order?"), widget=forms.RadioSelect)

    def __init__(self, *args: Any, eligibilities: list[ExerciseEligibility], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["choice"]
        field.choices = [
            (choice_value(e.exercise.pk, card_type), f"{card_type} — {e.exercise.profession.label}")
            for e in eligibilities
            for card_type in e.card_types
        ]
        self.eligibilities = {e.exercise.pk: e for e in eligibilities}
        if len(field.choices) == 1 and not self.is_bound:
            self.initial.setdefault("choice", field.choices[0][0])

    def options(self) -> list[dict[str, Any]]:
        """The radio buttons to draw: each with its exercise's eligibility (the page says who reviews it)."""
        value = str(self["choice"].value() or "")
        field: Any = self.fields["choice"]
        return [
            {
                "id": f"choice-{index}",
                "value": option,
                "label": label,
                "checked": option == value,
                "eligibility": self.eligibilities[int(option.split(":")[0])],
            }
            for index, (option, label) in enumerate(field.choices)
        ]

    def chosen(self) -> tuple[ExerciseEligibility, str]:
        """The exercise (with its eligibility) and the card type chosen, once the form is valid."""
        exercise_id, card_type = self.cleaned_data["choice"].split(":")
        return self.eligibilities[int(exercise_id)], card_type


class ReorderForm(AccessibleForm):
    """A new order after a rejected (or cancelled) one: the same card; a replacement says again why."""

    replacement_reason = forms.ChoiceField(
        label=_("Why is the card replaced?"),
        choices=Order.ReplacementReason.choices,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, replacement: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not replacement:
            del self.fields["replacement_reason"]
