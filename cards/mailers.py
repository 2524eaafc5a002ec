"""The letters produced with a card: the PIN mailer (PIN + PUK) and the card carrier letter (reportlab).

The PIN mailer exists in clear only in memory: it is sealed with Fernet (key CPX_SECRETS_KEY, or derived
from SECRET_KEY) before it reaches the database, opened only to print it, and purged once printed.
"""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass

from cryptography.fernet import Fernet
from django.conf import settings
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas


@dataclass(frozen=True)
class Addressee:
    name: str
    address_lines: tuple[str, ...]
    card_number: str
    card_type: str
    valid_until: str


def _fernet() -> Fernet:
    key = settings.CPX_SECRETS_KEY
    if not key:
        digest = hashlib.sha256(f"cpx-pin-mailer:{settings.SECRET_KEY}".encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key)


def seal(pdf: bytes) -> bytes:
    return _fernet().encrypt(pdf)


def unseal(token: bytes) -> bytes:
    return _fernet().decrypt(token)


def _page(title: str) -> tuple[canvas.Canvas, io.BytesIO]:
    buffer = io.BytesIO()
    # Uncompressed page streams: the mailer is sealed at rest anyway, and printers' spoolers like it plain.
    pdf = canvas.Canvas(buffer, pagesize=A4, pageCompression=0, invariant=1)
    pdf.setTitle(title)
    pdf.setFont("Helvetica-Bold", 14)
    pdf.drawString(20 * mm, 280 * mm, "CPx - Agence du Numérique en Santé")
    return pdf, buffer


def _address(pdf: canvas.Canvas, to: Addressee) -> None:
    text = pdf.beginText(110 * mm, 250 * mm)
    text.setFont("Helvetica", 11)
    for line in (to.name, *to.address_lines):
        text.textLine(line)
    pdf.drawText(text)


def _lines(pdf: canvas.Canvas, top: float, lines: list[str]) -> None:
    text = pdf.beginText(20 * mm, top)
    text.setFont("Helvetica", 11)
    for line in lines:
        text.textLine(line)
    pdf.drawText(text)


def _display(number: str) -> str:
    return f"{number[:10]}/{number[10:]}"


def render_pin_mailer(to: Addressee, *, pin: str, puk: str) -> bytes:
    """The letter with the card's codes, sent separately from the card."""
    pdf, buffer = _page("Vos codes confidentiels")
    _address(pdf, to)
    _lines(
        pdf,
        200 * mm,
        [
            f"Carte {to.card_type} n° {_display(to.card_number)}",
            "",
            "Voici les codes confidentiels de votre carte. Ne les communiquez à personne",
            "et ne les conservez pas avec la carte.",
        ],
    )
    pdf.setFont("Helvetica-Bold", 16)
    pdf.drawString(20 * mm, 160 * mm, f"Code porteur (PIN) : {pin}")
    pdf.drawString(20 * mm, 150 * mm, f"Code de déblocage (PUK) : {puk}")
    _lines(
        pdf, 130 * mm, ["Trois codes porteur erronés bloquent la carte ; le code de déblocage la débloque."]
    )
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def render_carrier(to: Addressee) -> bytes:
    """The letter the card is glued on: who it is for, how to activate it. No secret."""
    pdf, buffer = _page("Votre carte")
    _address(pdf, to)
    _lines(
        pdf,
        200 * mm,
        [
            f"Votre carte {to.card_type} n° {_display(to.card_number)}",
            f"Valable jusqu'au {to.valid_until}.",
            "",
            "Vos codes confidentiels vous parviennent dans un courrier séparé.",
            "Pour activer la carte, saisissez votre code porteur lors de la première utilisation.",
        ],
    )
    pdf.rect(120 * mm, 60 * mm, 85.6 * mm, 54 * mm)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
