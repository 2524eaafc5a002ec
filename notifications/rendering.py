"""Turning a notification into words: subject and body from the templates, and letters as PDF pages.

Plain-text templates are rendered by their own template engine with autoescaping off (an e-mail body is not
HTML: ``l'Ordre`` must not become ``l&#x27;Ordre``), inside ``translation.override`` so dates and numbers
follow the message's language.
"""

import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import IO

from django.conf import settings
from django.template import Context, Engine
from django.utils import formats, timezone, translation
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from core.formats import format_money
from registry.models import Activity, Professional

from .models import Notification

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


class Undeliverable(Exception):
    """The message cannot be delivered however often we retry (no postal address, no e-mail address)."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


@cache
def _engine() -> Engine:
    return Engine(dirs=[str(TEMPLATE_DIR)], autoescape=False)


def template_name(event: str, part: str, language: str) -> str:
    return f"notifications/{event}/{part}.{language}.txt"


def render_text(*, event: str, language: str, context: dict, recipient: Professional) -> Rendered:
    with translation.override(language):
        full = {key: _localized(key, value) for key, value in context.items()}
        full.update(recipient_name=_salutation_name(recipient), base_url=settings.CPX_BASE_URL)
        full["free"] = "amount" in context and Decimal(str(context["amount"])) == 0
        subject = _render(template_name(event, "subject", language), full)
        body = _render(template_name(event, "body", language), full)
    return Rendered(subject=" ".join(subject.split()), body=body.strip() + "\n")


def _render(name: str, context: dict) -> str:
    # Context() escapes by default whatever the engine says; plain text must not be escaped.
    return _engine().get_template(name).render(Context(context, autoescape=False))


def _localized(key: str, value: object) -> object:
    """Dates travel through the JSON context as ISO strings (``*_on``, ``*_at``) and amounts as decimal
    strings; show them as people read them in the message's language."""
    if key == "amount":
        return format_money(Decimal(str(value)))
    if not isinstance(value, str):
        return value
    try:
        if key.endswith("_on"):
            return formats.date_format(date.fromisoformat(value), "DATE_FORMAT")
        if key.endswith("_at"):
            moment = timezone.localtime(datetime.fromisoformat(value))
            return formats.date_format(moment, "DATETIME_FORMAT")
    except ValueError:
        pass
    return value


def render_notification(notification: Notification) -> Rendered:
    return render_text(
        event=notification.event,
        language=notification.language,
        context=notification.context,
        recipient=notification.recipient,
    )


def _salutation_name(professional: Professional) -> str:
    parts = [professional.exercise_civility or professional.civility, professional.first_name]
    return " ".join(p for p in [*parts, professional.last_name] if p)


def postal_address(professional: Professional) -> list[str]:
    """Name and the address of the first active activity's structure (the registry has no home address)."""
    activity = (
        Activity.objects.filter(
            exercise__professional=professional,
            exercise__is_active=True,
            is_active=True,
            structure__isnull=False,
        )
        .select_related("structure")
        .order_by("id")
        .first()
    )
    if activity is None or activity.structure is None or not activity.structure.address_lines:
        raise Undeliverable(f"no postal address for {professional.national_id}")
    return [_salutation_name(professional), *activity.structure.address_lines]


def write_letters(out: IO[bytes], letters: Iterable[Notification]) -> int:
    """Write one A4 page per letter to ``out``; returns the number of pages."""
    canvas = Canvas(out, pagesize=A4, invariant=True)
    canvas.setTitle("CPx")
    pages = 0
    for notification in letters:
        _draw_letter(canvas, notification)
        canvas.showPage()
        pages += 1
    canvas.save()
    return pages


def letter_pdf(notification: Notification) -> bytes:
    out = BytesIO()
    write_letters(out, [notification])
    return out.getvalue()


def _draw_letter(canvas: Canvas, notification: Notification) -> None:
    address = notification.postal_address.splitlines() or postal_address(notification.recipient)
    rendered = render_notification(notification)
    width, height = A4
    text = canvas.beginText(20 * mm, height - 20 * mm)
    text.setFont("Helvetica", 9)
    for line in settings.CPX_LETTER_RETURN_ADDRESS:
        text.textLine(line)
    canvas.drawText(text)
    # The window of a DL envelope: 110 mm from the left, 45 mm from the top.
    text = canvas.beginText(110 * mm, height - 50 * mm)
    text.setFont("Helvetica", 11)
    for line in address:
        text.textLine(line)
    canvas.drawText(text)
    _draw_body(canvas, notification, rendered, height - 100 * mm)
    canvas.setFont("Helvetica", 7)
    canvas.drawString(
        20 * mm,
        12 * mm,
        f"{notification.recipient.national_id} · {notification.event} · n° {notification.pk}",
    )


def _draw_body(canvas: Canvas, notification: Notification, rendered: Rendered, top: float) -> None:
    with translation.override(notification.language):
        today = formats.date_format(timezone.localdate(), "DATE_FORMAT")
    text = canvas.beginText(20 * mm, top)
    text.setFont("Helvetica", 10)
    text.textLine(today)
    text.textLine("")
    text.setFont("Helvetica-Bold", 11)
    text.textLine(rendered.subject)
    text.setFont("Helvetica", 10)
    text.textLine("")
    # Above the footer, after the date and subject lines, at 12 pt leading.
    for line in fit_lines(rendered.body, room=int((top - 25 * mm) / 12) - 4):
        text.textLine(line)
    canvas.drawText(text)


def fit_lines(body: str, *, room: int, width: int = 95) -> list[str]:
    """The body wrapped to the page. One letter, one page (the manifest counts on it): a body too long for
    the page (a long free-text reason) is cut, visibly."""
    lines = [line for paragraph in body.splitlines() for line in textwrap.wrap(paragraph, width) or [""]]
    return lines if len(lines) <= room else [*lines[: room - 1], "[…]"]
