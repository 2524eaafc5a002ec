"""The invoice in French (the reader's language; English for an English reader): "Facture", the seller's
identity from the settings, the invoice number, the order, ``36,00 €``, "1 décembre 2026", the reason."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from core.formats import format_date
from orders import payment_services
from orders.invoices import invoice_pdf

from .helpers import doctor_order
from .test_payment_catalogue import payments_french  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def pdf_text(pdf: bytes) -> str:
    """The text drawn on the (uncompressed) page: reportlab's literal strings, in WinAnsi."""
    lines = []
    for literal in re.findall(rb"\((.*?)\) Tj", pdf):
        raw = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), literal)
        raw = re.sub(rb"\\(.)", rb"\1", raw)
        lines.append(raw.decode("cp1252"))
    return "\n".join(lines)


@pytest.fixture
def payment(cnom):
    order = doctor_order("awaiting_payment", replacement_reason="stolen")
    return payment_services.payment_record(
        order=order,
        actor=cnom,
        amount=Decimal("36"),
        method="transfer",
        reference="BQ-1001",
        at=timezone.make_aware(datetime.datetime(2026, 12, 1, 10, 0)),
    )


@pytest.fixture
def seller(settings):
    settings.CPX_INVOICE_ISSUER = "Agence du numérique en santé"
    settings.CPX_SELLER_ADDRESS = ["9 rue Georges Pitard", "75015 Paris"]
    settings.CPX_SELLER_SIRET = "000 000 000 00000"
    settings.CPX_SELLER_VAT_NUMBER = ""
    settings.CPX_SELLER_VAT_MENTION = "TVA non applicable, article 256 B du CGI"


@pytest.mark.usefixtures("payments_french")
def test_the_invoice_is_in_french_with_the_sellers_identity(payment, seller):
    text = pdf_text(invoice_pdf(payment))
    assert f"Facture {payment.invoice_number}" in text
    assert "Agence du numérique en santé\n9 rue Georges Pitard\n75015 Paris" in text
    assert "SIRET 000 000 000 00000" in text
    assert "TVA non applicable, article 256 B du CGI" in text
    assert "Date : 1 décembre 2026" in text
    assert f"Commande : n° {payment.order_id}" in text
    assert "Motif du remplacement : Volée" in text
    assert "Total payé : 36,00\u00a0€" in text or "Total payé : 36,00 €" in text
    assert "Virement" in text and "BQ-1001" in text
    for english in ("Invoice", "Total paid", "Reason", "EUR", "Paid by"):
        assert english not in text


def test_the_invoice_is_in_english_for_an_english_reader(payment, seller, settings):
    settings.CPX_SELLER_VAT_NUMBER = "FR00000000000"
    with translation.override("en"):
        text = pdf_text(invoice_pdf(payment))
    assert f"Invoice {payment.invoice_number}" in text
    assert f"Date: {format_date(payment.at, language='en')}" in text and "décembre" not in text
    assert "Total paid: €36.00" in text
    assert "VAT number FR00000000000" in text and "256 B" not in text
