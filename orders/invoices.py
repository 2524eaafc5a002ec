"""The invoice of a paid order, as a one-page PDF (reportlab), in the reader's language (French by default).

Built on demand from the ``Payment`` row, which holds everything it shows, so the same payment always gives
the same invoice. The seller's identity comes from the settings (``CPX_INVOICE_ISSUER``, ``CPX_SELLER_*``:
address, SIRET, VAT number or the VAT exemption mention); amounts are written ``36,00 €`` and dates
``1 décembre 2026`` (``core.formats``). Pages are not compressed: invoices are small and stay searchable.
"""

from __future__ import annotations

from io import BytesIO

from django.conf import settings
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from core.formats import format_date, format_money

from .models import Payment


def invoice_filename(payment: Payment) -> str:
    return f"{payment.invoice_number}.pdf"


def seller_lines() -> list[str]:
    """The seller's identity as printed on invoices."""
    lines = [settings.CPX_INVOICE_ISSUER, *[line for line in settings.CPX_SELLER_ADDRESS if line.strip()]]
    if settings.CPX_SELLER_SIRET:
        lines.append(_("SIRET %(siret)s") % {"siret": settings.CPX_SELLER_SIRET})
    if settings.CPX_SELLER_VAT_NUMBER:
        lines.append(_("VAT number %(number)s") % {"number": settings.CPX_SELLER_VAT_NUMBER})
    return lines  # without a VAT number, the exemption mention is printed under the total


def invoice_lines(payment: Payment) -> list[tuple[int, str]]:
    """What the invoice says, line by line (font size, text), in the active language."""
    order = payment.order
    person = order.professional
    lines: list[tuple[int, str]] = [(12 if i == 0 else 10, text) for i, text in enumerate(seller_lines())]
    lines += [
        (10, ""),
        (18, _("Invoice %(number)s") % {"number": payment.invoice_number}),
        (11, _("Date: %(date)s") % {"date": format_date(payment.at)}),
        (11, ""),
        (11, _("Holder: %(name)s (%(id)s)") % {"name": person.full_name, "id": person.national_id}),
        (
            11,
            _("Order: no. %(pk)s — %(card_type)s, %(kind)s")
            % {"pk": order.pk, "card_type": order.get_card_type_display(), "kind": order.get_kind_display()},
        ),
    ]
    if order.replacement_reason:
        reason = order.get_replacement_reason_display()
        lines.append((11, _("Reason for the replacement: %(reason)s") % {"reason": reason}))
    lines += [
        (11, ""),
        (
            12,
            _("Replacement card fee: %(amount)s") % {"amount": format_money(_fee(payment), payment.currency)},
        ),
        (11, _paid_by(payment)),
        (12, _("Total paid: %(amount)s") % {"amount": format_money(payment.amount, payment.currency)}),
    ]
    if not settings.CPX_SELLER_VAT_NUMBER and settings.CPX_SELLER_VAT_MENTION:
        lines.append((9, settings.CPX_SELLER_VAT_MENTION))
    return lines


def invoice_pdf(payment: Payment) -> bytes:
    buffer = BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=0, invariant=1)
    canvas.setTitle(_("Invoice %(number)s") % {"number": payment.invoice_number})
    canvas.setAuthor(settings.CPX_INVOICE_ISSUER)
    y = A4[1] - 25 * mm
    for size, text in invoice_lines(payment):
        canvas.setFont("Helvetica-Bold" if size > 11 else "Helvetica", size)
        canvas.drawString(25 * mm, y, text.replace("\u202f", "\u00a0"))  # no narrow space in Helvetica
        y -= size * 0.6 * mm + 3 * mm
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _fee(payment: Payment):
    """The fee: what was paid, or for a waiver what was waived (the order's fee; nothing was paid)."""
    if payment.method == Payment.Method.WAIVER and payment.order.fee is not None:
        return payment.order.fee
    return payment.amount


def _paid_by(payment: Payment) -> str:
    if payment.method == Payment.Method.WAIVER:  # orders.waivers: approved by a second operator
        return _("Fee waived by the authority — decision %(reference)s") % {"reference": payment.reference}
    return _("Paid by: %(method)s — reference %(reference)s") % {
        "method": payment.get_method_display(),
        "reference": payment.reference,
    }
