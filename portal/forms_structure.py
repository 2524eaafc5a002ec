"""The structure manager's forms: declaring a staff member, ordering a card for one, a batch file.

They validate input only; the rules (identifiers, roles and cards, eligibility) are ``registry.staff``'s
and ``orders``' job, and their refusals come back as domain errors."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from orders.batch import MAX_BYTES
from portal.forms import AccessibleForm
from registry import staff
from registry.models import CardType, StructureMember

STRUCTURE_CARD_TYPES = [
    (CardType.CPE.value, _("CPE: establishment staff card")),
    (CardType.CPA.value, _("CPA: authorised staff card")),
    (CardType.CDE.value, _("CDE: establishment director card (legal representative)")),
]


class StaffDeclareForm(AccessibleForm):
    civility = forms.ChoiceField(
        label=_("Civility"), required=False, choices=[("", "—"), *staff.CIVILITIES.items()]
    )
    last_name = forms.CharField(label=_("Last name"), max_length=120)
    first_name = forms.CharField(label=_("First name"), max_length=120)
    role = forms.ChoiceField(
        label=_("Role in the structure"),
        choices=StructureMember.Role.choices,
        help_text=_(
            "Establishment staff hold a CPE, authorised staff a CPA, the legal representative a CDE."
        ),
    )
    job_title = forms.CharField(
        label=_("Job title (optional)"),
        required=False,
        max_length=120,
        help_text=_("For example: secretary."),
    )
    email = forms.EmailField(label=_("E-mail address (optional)"), required=False)
    mobile = forms.CharField(
        label=_("Mobile number (optional)"),
        required=False,
        max_length=32,
        help_text=_("A French mobile number, for example 06 12 34 56 78."),
    )
    internal_id = forms.CharField(
        label=_("Identifier in the structure (optional)"),
        required=False,
        max_length=16,
        help_text=_("For example a staff number; left empty, the next free number is given."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs["autocomplete"] = "off"
        self.fields["mobile"].widget.attrs.update({"autocomplete": "off", "inputmode": "tel"})


class StructureOrderForm(AccessibleForm):
    member = forms.ModelChoiceField(label=_("Staff member"), queryset=StructureMember.objects.none())
    card_type = forms.ChoiceField(
        label=_("Card type"), choices=STRUCTURE_CARD_TYPES, widget=forms.RadioSelect
    )

    def __init__(self, *args: Any, structure_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        members = StructureMember.objects.filter(structure_id=structure_id, is_active=True)
        field = self.fields["member"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = members.select_related("professional").order_by(
            "professional__last_name", "professional__first_name"
        )
        field.label_from_instance = member_label  # type: ignore[method-assign,assignment]


def member_label(member: StructureMember) -> str:
    person = member.professional
    card = staff.card_type_for(member.role)
    role = member.get_role_display()
    return f"{person.last_name.upper()} {person.first_name} — {role}" + (f" ({card})" if card else "")


class BatchUploadForm(AccessibleForm):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "Separated by semicolons or commas, in UTF-8 or Windows-1252; at most 1 MB and 500 rows."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs["accept"] = ".csv,text/csv"

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 1 MB: split it."))
        return upload


class BatchConfirmForm(forms.Form):
    sha256 = forms.RegexField(regex=r"^[0-9a-f]{64}$", widget=forms.HiddenInput)
