"""The letters produced with a card (reportlab, French): the codes letter (PIN + PUK), the card carrier letter
the card is glued on, and the re-issued codes letter (the PUK alone, re-derived on request).

Every letter says who sends it (CPX_LETTER_RETURN_ADDRESS), when, under which reference, the number to call to
oppose the card (CPX_OPPOSITION_PHONE) and the portal page that does the same, and what the codes are for:
typed only into the card agent ``cpx-card`` or the card reader's software, never on a web page, never told to
anyone. The codes are drawn with ``drawString`` as "Code porteur (PIN) : 1234" and "Code de déblocage (PUK) :
12345678", one PDF string each, in uncompressed page streams: the station tests read them back from there.

A codes letter exists in clear only in memory: it is sealed with Fernet (key CPX_SECRETS_KEY, or derived from
SECRET_KEY) before it reaches the database, opened only to print it, and purged once printed.

Rendering stays cheap (a print run makes thousands): the standard PDF fonts (nothing embedded, no image), and
the fixed paragraphs wrapped, and their PDF text operators formatted, once per process.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import date

from cryptography.fernet import Fernet
from django.conf import settings
from django.utils import timezone
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

REGULAR, BOLD, MONO = "Helvetica", "Helvetica-Bold", "Courier"
LEFT, WIDTH = 20 * mm, 170 * mm
# The window of a DL envelope (as the notification letters): 110 mm from the left, 45 mm from the top.
WINDOW_X, WINDOW_TOP = 110 * mm, A4[1] - 50 * mm
# An ISO/IEC 7810 ID-1 card, glued by the inserting machine in the bottom third of the sheet: the sheet is
# folded in three for its DL envelope (folds 99 mm and 198 mm from the top), and no fold may cross the card.
CARD_WIDTH, CARD_HEIGHT = 85.6 * mm, 54 * mm
CARD_X, CARD_Y = (A4[0] - CARD_WIDTH) / 2, 24 * mm
CARD_TOP = CARD_Y + CARD_HEIGHT + 10 * mm  # the carrier's text stops above the card and its label
FOOTER_Y = 12 * mm
Line = tuple[str, float, str]  # font, size, text
# The portal's "Mes cartes" page (``portal:cards``; a test keeps them equal): a path, not ``reverse()``, so
# that a reader station rendering letters never loads the web's URLconf and every view behind it.
PORTAL_CARDS_PATH = "/cards/"
MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip


class LetterOverflow(ValueError):
    """A letter's text would run past its page (or onto the card): one letter is one page."""


@dataclass(frozen=True)
class Addressee:
    name: str
    address_lines: tuple[str, ...]
    card_number: str
    card_type: str
    valid_until: str


def _fernet() -> Fernet:
    return _fernet_for(settings.CPX_SECRETS_KEY, settings.SECRET_KEY)


@functools.lru_cache(maxsize=4)
def _fernet_for(secrets_key: str, secret_key: str) -> Fernet:
    """Built once per key, not once per letter (a print run seals thousands)."""
    key = secrets_key
    if not key:
        digest = hashlib.sha256(f"cpx-pin-mailer:{secret_key}".encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key)


def seal(pdf: bytes) -> bytes:
    return _fernet().encrypt(pdf)


def unseal(token: bytes) -> bytes:
    return _fernet().decrypt(token)


# --- the letters --------------------------------------------------------------------------------------------


def render_pin_mailer(
    to: Addressee, *, pin: str, puk: str, reference: str = "", dated: date | None = None
) -> bytes:
    """The letter with the card's codes, posted apart from the card (a day later)."""
    page = _Letter(
        "Vos codes confidentiels", to, reference=reference or f"CODES-{to.card_number}", dated=dated
    )
    page.paragraph(
        f"Voici les deux codes confidentiels de votre carte {to.card_type} n° {_display(to.card_number)}. "
        "La carte elle-même vous parvient dans un courrier séparé."
    )
    page.codes([f"Code porteur (PIN) : {pin}", f"Code de déblocage (PUK) : {puk}"])
    _what_the_codes_are_for(page)
    _where_to_type_them(page)
    page.heading("Gardez ce courrier à part")
    page.paragraph(KEEP_APART)
    page.paragraph(
        "Code de déblocage oublié ou courrier perdu : demandez un nouvel envoi de vos codes sur le portail, "
        f"ou en appelant le {_phone()}."
    )
    _opposition(page, "Carte perdue ou volée, codes vus par quelqu'un d'autre, ou ce courrier reçu ouvert")
    return page.finish()


def render_carrier(to: Addressee, *, reference: str = "", dated: date | None = None) -> bytes:
    """The letter the card is glued on: who it is for, where it sits, how to activate it. No secret."""
    page = _Letter(
        "Votre carte", to, reference=reference or f"CARTE-{to.card_number}", dated=dated, floor=CARD_TOP
    )
    page.paragraph(
        f"Voici votre carte {to.card_type} n° {_display(to.card_number)}, valable jusqu'au {to.valid_until}. "
        "Elle est collée au bas de ce courrier : détachez-la doucement de son support."
    )
    page.paragraph(
        "Son code porteur (PIN) et son code de déblocage (PUK) vous parviennent dans un courrier séparé, "
        "posté un jour après celui-ci : la carte et ses codes ne voyagent jamais ensemble. Ne rangez pas la "
        "carte avec ce second courrier."
    )
    page.heading("Activer la carte (elle ne fonctionne pas avant)")
    page.paragraph(
        "1. Sur votre ordinateur, branchez le lecteur de carte et insérez-y la carte ; l'agent de carte "
        "cpx-card doit y être installé."
    )
    page.paragraph(
        f"2. Sur le portail CPx ({_portal_cards_url()}), rubrique « Mes cartes », ouvrez cette carte et "
        "demandez son activation. Le portail affiche la commande à lancer, de la forme :"
    )
    page.command(f"cpx-card sign --card {to.card_number} '…'")
    page.paragraph(
        "3. Lancez-la telle quelle. cpx-card vous demande votre code porteur : tapez-le là, jamais sur le "
        "portail. Copiez dans le portail la réponse que cpx-card affiche : la carte est active."
    )
    _opposition(page, "Carte perdue ou volée, ou ce courrier reçu ouvert ou sans carte")
    _card_frame(page.pdf, to)
    return page.finish()


def render_codes_reissue(
    to: Addressee,
    *,
    puk: str,
    reference: str,
    card_number: str,
    requested_on: date,
    dated: date | None = None,
) -> bytes:
    """The re-issued codes letter: the card's PUK alone (re-derived, never stored), with which the holder sets
    a new PIN. No PIN: nobody knows the card's PIN, the platform least of all."""
    title = "Nouvel envoi de votre code de déblocage"
    page = _Letter(title, to, reference=reference, dated=dated, card_number=card_number)
    page.paragraph(
        f"Le {_french_date(requested_on)}, un nouvel envoi des codes de votre carte {to.card_type} "
        f"n° {_display(card_number)} a été demandé (demande n° {reference}). Voici son code de déblocage :"
    )
    page.codes([f"Code de déblocage (PUK) : {puk}"])
    page.paragraph(
        "Votre code porteur (PIN) n'est pas dans ce courrier : personne ne le connaît, pas même l'Agence. "
        "Pour en choisir un nouveau, carte dans le lecteur, lancez la commande ci-dessous, tapez ce code de "
        "déblocage, puis deux fois votre nouveau code porteur (4 chiffres) :"
    )
    page.command("cpx-card unblock")
    page.paragraph(
        "Trois codes de déblocage faux rendent la carte définitivement inutilisable : elle doit alors être "
        "remplacée."
    )
    page.heading("Vous n'avez rien demandé ?")
    page.paragraph(
        "Quelqu'un a peut-être tenté de se faire passer pour vous : appelez sans attendre le "
        f"{_phone()} pour faire opposition à la carte. N'utilisez pas ce code et ne le "
        "communiquez à personne, même à quelqu'un qui vous appellerait à ce sujet."
    )
    _where_to_type_them(page)
    page.heading("Gardez ce courrier à part")
    page.paragraph(KEEP_APART)
    _opposition(page, "Carte perdue ou volée, ou ce courrier reçu ouvert")
    return page.finish()


# --- what the letters explain -------------------------------------------------------------------------------

KEEP_APART = (
    "Ne conservez pas ce courrier avec la carte : la carte et ses codes voyagent séparément pour qu'un seul "
    "envoi perdu ou volé ne suffise pas à s'en servir. Rangez-le en lieu sûr, ou détruisez-le une fois vos "
    "codes mémorisés."
)


def _what_the_codes_are_for(page: _Letter) -> None:
    page.heading("À quoi servent ces codes")
    page.paragraph(
        "Le code porteur (PIN, 4 chiffres) prouve que c'est bien vous qui utilisez la carte : il vous est "
        "demandé pour vous connecter et pour signer. Vous pouvez le changer quand vous voulez :"
    )
    page.command("cpx-card change-pin")
    page.paragraph(
        "Le code de déblocage (PUK, 8 chiffres) ne sert qu'à débloquer la carte. Trois codes porteur faux "
        "bloquent la carte ; débloquez-la avec la commande ci-dessous, en tapant le code de déblocage puis "
        "un nouveau code porteur. Trois codes de déblocage faux rendent la carte définitivement "
        "inutilisable : elle doit alors être remplacée."
    )
    page.command("cpx-card unblock")


def _where_to_type_them(page: _Letter) -> None:
    page.heading("Où taper vos codes, et où jamais")
    page.paragraph(
        "Tapez vos codes uniquement dans l'agent de carte cpx-card ou dans le logiciel de votre lecteur de "
        "carte, sur votre ordinateur, la carte dans le lecteur. Jamais sur une page web, dans un courriel ou "
        "au téléphone. Ne les dites à personne, pas même au service d'assistance : personne à l'Agence ne "
        "vous les demandera jamais."
    )


def _opposition(page: _Letter, when: str) -> None:
    page.heading("Perte, vol : faites opposition sans attendre")
    page.paragraph(
        f"{when} : appelez le {_phone()}, ou déclarez-la sur le portail, rubrique "
        f"« Mes cartes », « Déclarer cette carte perdue, volée ou endommagée » ({_portal_cards_url()}). "
        "L'opposition bloque aussitôt l'usage de la carte."
    )


def _phone() -> str:
    """The opposition number, never cut across two lines."""
    return settings.CPX_OPPOSITION_PHONE.replace(" ", "\xa0")


def _portal_cards_url() -> str:
    """The holder's cards on the portal: where a card is declared lost or stolen, and activated."""
    return f"{settings.CPX_BASE_URL.rstrip('/')}{PORTAL_CARDS_PATH}"


# --- the page -----------------------------------------------------------------------------------------------


class _Letter:
    """One A4 page written from the top down: the sender, the addressee in the envelope's window, the date
    and references, the title, then blocks of text. A block that would go below ``floor`` raises
    LetterOverflow."""

    def __init__(
        self,
        title: str,
        to: Addressee,
        *,
        reference: str,
        dated: date | None,
        card_number: str = "",
        floor: float = FOOTER_Y + 8 * mm,
    ) -> None:
        self.buffer = io.BytesIO()
        # Uncompressed page streams: the codes letter is sealed at rest anyway, and printers' spoolers like it
        # plain.
        self.pdf = canvas.Canvas(self.buffer, pagesize=A4, pageCompression=0, invariant=1)
        self.pdf.setTitle(title)
        self.footer = f"Réf. {reference} · carte n° {_display(card_number or to.card_number)} · {title}"
        self.floor = floor
        self._sender()
        self._lines(WINDOW_X, WINDOW_TOP, [(REGULAR, 11, line) for line in (to.name, *to.address_lines)], 13)
        when = _french_date(dated or timezone.localdate())
        self._lines(
            LEFT, A4[1] - 62 * mm, [(REGULAR, 10, f"Le {when}"), (REGULAR, 10, f"Réf. : {reference}")], 13
        )
        self.y = A4[1] - 92 * mm
        self._block([(BOLD, 14, title)], 17)
        self.y -= 3 * mm

    def heading(self, text: str) -> None:
        self.y -= 2 * mm
        self._block([(BOLD, 11, line) for line in _wrap(text, BOLD, 11, WIDTH)], 14)

    def paragraph(self, text: str) -> None:
        self._block([(REGULAR, 10, line) for line in _wrap(text, REGULAR, 10, WIDTH)], 12.5)
        self.y -= 1.5 * mm

    def command(self, text: str) -> None:
        """A command to type, on its own line in a fixed-width font."""
        self._lines(LEFT + 8 * mm, self.y, [(MONO, 10, text)], 12.5)
        self.y -= 12.5 + 1.5 * mm

    def codes(self, lines: list[str]) -> None:
        """The codes, framed, one ``drawString`` each (one PDF string per code line: see the module doc)."""
        height = len(lines) * 9 * mm + 4 * mm
        self._make_room(height)
        self.pdf.rect(LEFT, self.y - height, WIDTH, height)
        self.pdf.setFont(BOLD, 15)
        for number, line in enumerate(lines, start=1):
            self.pdf.drawString(LEFT + 6 * mm, self.y - number * 9 * mm, line)
        self.y -= height + 4 * mm

    def finish(self) -> bytes:
        self.pdf.setFont(REGULAR, 7)
        self.pdf.drawString(LEFT, FOOTER_Y, self.footer)
        self.pdf.showPage()
        self.pdf.save()
        return self.buffer.getvalue()

    def _sender(self) -> None:
        first, *rest = settings.CPX_LETTER_RETURN_ADDRESS
        phone = f"Opposition (carte perdue ou volée) : {settings.CPX_OPPOSITION_PHONE}"
        lines = [(BOLD, 10, first), *[(REGULAR, 9, line) for line in rest], (BOLD, 9, phone)]
        self._lines(LEFT, A4[1] - 20 * mm, lines, 11.5)

    def _block(self, lines: Sequence[Line], leading: float) -> None:
        self._make_room(len(lines) * leading)
        self._lines(LEFT, self.y, lines, leading)
        self.y -= len(lines) * leading

    def _make_room(self, height: float) -> None:
        if self.y - height < self.floor:
            raise LetterOverflow(f"the letter {self.footer!r} runs past its page")

    def _lines(self, x: float, top: float, lines: Sequence[Line], leading: float) -> None:
        """One text object. Its PDF operators are formatted once per process and reused (reportlab formats
        text in pure Python, and most blocks are the same in every letter): the key holds everything they
        depend on, the document's names of the fonts (``/F1``…, given in order of first use, as the text
        object would) included. Only addressee and fixed text pass here; the codes are drawn apart."""
        fonts = tuple(
            self.pdf._doc.getInternalFontName(font) for font in dict.fromkeys(f for f, _, _ in lines)
        )
        key = (x, top, tuple(lines), leading, fonts)
        code = _TEXT_CODE.get(key)
        if code is None:
            text = self.pdf.beginText(x, top - leading + 2)
            text.setLeading(leading)
            current = None
            for font, size, line in lines:
                if (font, size) != current:
                    text.setFont(font, size, leading)
                    current = (font, size)
                text.textLine(line)
            code = _TEXT_CODE.put(key, text.getCode())
        # What drawText() does with a text object's code.
        self.pdf.addLiteral(code)


class _LeastRecentlyUsed:
    """A bounded memo: the letter-specific blocks (addressee, date) pass through and fall out, the fixed ones,
    used by every letter, stay."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[Hashable, str] = OrderedDict()

    def get(self, key: Hashable) -> str | None:
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key: Hashable, value: str) -> str:
        self.items[key] = value
        if len(self.items) > self.size:
            self.items.popitem(last=False)
        return value


_TEXT_CODE = _LeastRecentlyUsed(512)


def _card_frame(pdf: canvas.Canvas, to: Addressee) -> None:
    """Where the card is glued, drawn at its size and labelled (what remains once it is taken off)."""
    pdf.setFont(BOLD, 10)
    pdf.drawString(
        CARD_X, CARD_Y + CARD_HEIGHT + 3 * mm, "Votre carte est collée ici : détachez-la doucement."
    )
    pdf.setDash(3, 2)
    pdf.roundRect(CARD_X, CARD_Y, CARD_WIDTH, CARD_HEIGHT, 3.18 * mm)
    pdf.setDash()
    pdf.setFillGray(0.55)
    pdf.setFont(REGULAR, 9)
    middle = CARD_X + CARD_WIDTH / 2
    pdf.drawCentredString(
        middle, CARD_Y + CARD_HEIGHT / 2 + 2 * mm, f"Emplacement de la carte {to.card_type}"
    )
    pdf.drawCentredString(middle, CARD_Y + CARD_HEIGHT / 2 - 3 * mm, f"n° {_display(to.card_number)}")
    pdf.setFillGray(0)


# --- text ---------------------------------------------------------------------------------------------------


def _display(number: str) -> str:
    return f"{number[:10]}/{number[10:]}"


def _french_date(day: date) -> str:
    return f"{'1er' if day.day == 1 else day.day} {MONTHS[day.month - 1]} {day.year}"


# Spaces French typography keeps with their neighbour: none of these may end or start a line.
_GLUED = {
    " :": "\xa0:",
    " ;": "\xa0;",
    " ?": "\xa0?",
    " !": "\xa0!",
    "« ": "«\xa0",
    " »": "\xa0»",
    "n° ": "n°\xa0",
}


@functools.lru_cache(maxsize=512)
def _wrap(text: str, font: str, size: float, width: float) -> tuple[str, ...]:
    """``text`` in lines no wider than ``width`` (a word wider than that stands alone), cut only at plain
    spaces. Cached: most paragraphs are the same in every letter."""
    for plain, glued in _GLUED.items():
        text = text.replace(plain, glued)
    space = stringWidth(" ", font, size)
    lines: list[str] = []
    words: list[str] = []
    used = -space
    for word in text.split(" "):
        wide = stringWidth(word, font, size)
        if words and used + space + wide > width:
            lines.append(" ".join(words))
            words, used = [], -space
        words.append(word)
        used += space + wide
    return (*lines, " ".join(words))
