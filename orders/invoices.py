"""The invoice of a paid order, as a one-page PDF (reportlab).

Built on demand from the ``Payment`` row, which holds everything it shows, so the same payment always gives
the same invoice. Pages are not compressed: invoices are small and stay searchable by their text.
"""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO

from django.conf import settings
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from .models import Payment


def invoice_filename(payment: Payment) -> str:
    return f"{payment.invoice_number}.pdf"


def invoice_pdf(payment: Payment) -> bytes:
    order = payment.order
    person = order.professional
    buffer = BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=0, invariant=1)
    canvas.setTitle(f"{_('Invoice')} {payment.invoice_number}")
    canvas.setAuthor(settings.CPX_INVOICE_ISSUER)
    lines = [
        (14, settings.CPX_INVOICE_ISSUER),
        (18, f"{_('Invoice')} {payment.invoice_number}"),
        (11, f"{_('Date')}: {payment.at:%d/%m/%Y}"),
        (11, ""),
        (11, f"{_('Holder')}: {person.full_name} ({person.national_id})"),
        (11, f"{_('Order')}: {order.pk} — {order.card_type}, {order.get_kind_display()}"),
        (11, f"{_('Reason')}: {order.get_replacement_reason_display()}" if order.replacement_reason else ""),
        (11, ""),
        (12, f"{_('Replacement card fee')}: {_fee_text(payment)}"),
        (11, _paid_by(payment)),
        (11, f"{_('Total paid')}: {payment.amount_text}"),
    ]
    y = A4[1] - 30 * mm
    for size, text in lines:
        canvas.setFont("Helvetica-Bold" if size > 11 else "Helvetica", size)
        canvas.drawString(25 * mm, y, text)
        y -= size * 0.6 * mm + 4 * mm
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _fee_text(payment: Payment) -> str:
    """The fee: what was paid, or for a waiver what was waived (the order's fee; nothing was paid)."""
    if payment.method == Payment.Method.WAIVER and payment.order.fee is not None:
        return f"{payment.order.fee.quantize(Decimal('0.01'))} {payment.currency}"
    return payment.amount_text


def _paid_by(payment: Payment) -> str:
    if payment.method == Payment.Method.WAIVER:  # orders.waivers: approved by a second operator
        return f"{_('Fee waived by the authority')} — {_('decision')} {payment.reference}"
    return f"{_('Paid by')}: {payment.get_method_display()} — {_('reference')} {payment.reference}"
