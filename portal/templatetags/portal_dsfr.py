"""Form fields in the State's design system (DSFR): the widget of a bound field with the DSFR class of its
kind, and that kind, for ``portal/partials/field.html``."""

from __future__ import annotations

from typing import Any

from django import forms, template
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

register = template.Library()


@register.filter
def widget_kind(field: Any) -> str:
    """How the field is drawn: input, textarea, select, upload, checkbox, radios or checkboxes."""
    widget = field.field.widget
    if isinstance(widget, forms.RadioSelect):
        return "radios"
    if isinstance(widget, forms.CheckboxSelectMultiple):
        return "checkboxes"
    if isinstance(widget, forms.CheckboxInput):
        return "checkbox"
    if isinstance(widget, forms.Select | forms.SelectMultiple):
        return "select"
    if isinstance(widget, forms.FileInput):
        return "upload"
    if isinstance(widget, forms.Textarea):
        return "textarea"
    return "input"


CLASSES = {"input": "fr-input", "textarea": "fr-input", "select": "fr-select", "upload": "fr-upload"}


@register.filter
def dsfr_widget(field: Any) -> SafeString:
    """The widget with its DSFR class (and the error modifier), described by the hint and the errors that
    ``field.html`` draws (``<id>_help``, ``<id>_errors``, as ``portal.forms.AccessibleForm`` names them);
    Django adds aria-invalid itself."""
    kind = widget_kind(field)
    classes = [field.field.widget.attrs.get("class", ""), CLASSES.get(kind, "")]
    if field.errors and kind in CLASSES:
        classes.append(f"{CLASSES[kind]}--error")
    attrs = {"class": " ".join(c for c in classes if c)}
    described_by = [f"{field.auto_id}_help"] if field.help_text else []
    if field.errors:
        described_by.append(f"{field.auto_id}_errors")
    if described_by:
        attrs["aria-describedby"] = " ".join(described_by)
    return field.as_widget(attrs=attrs)


# What an approval request is about and the details of its action (``approvals.ApprovalRequest``'s
# ``object_type`` and ``payload`` keys are codes): their names in the reader's language, the code otherwise.
OBJECT_TYPES = {
    "order": _("order"),
    "card": _("card"),
    "registry_file": _("registry file"),
    "pki_operation": _("certification authority operation"),
    "user": _("user"),
    "approval_request": _("approval request"),
}
PAYLOAD_KEYS = {
    "order_id": _("Order"),
    "fee": _("Fee"),
    "reason": _("Reason"),
    "card": _("Card"),
    "unblock_request": _("Unblocking request"),
    "codes_reissue": _("New letter of the codes"),
    "file_name": _("File"),
    "file_sha256": _("SHA-256 fingerprint"),
    "if_needed": _("Only if needed"),
}


@register.filter
def object_type_label(value: str) -> str:
    return str(OBJECT_TYPES.get(value, value))


@register.filter
def payload_label(value: str) -> str:
    return str(PAYLOAD_KEYS.get(value, value))
