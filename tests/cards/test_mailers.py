"""The letters sent with a card, read back from their PDF: what a practitioner must find in each (who sends
it, when, under which reference, whom to call to oppose the card, what the codes are for and where to type
them), the codes where the print run and the station tests read them, the card's frame on the carrier, and
no PIN in the re-issued codes letter."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from freezegun import freeze_time
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm

from cards import mailers

NUMBER = "80250000010000000001"
SHOWN = "8025000001/0000000001"
PIN, PUK = "4821", "90817263"
DAY = dt.date(2026, 3, 1)
HOLDER_ADDRESS = ("Cabinet des Lilas", "1 rue de la Paix", "75002 PARIS")
TO = mailers.Addressee("Dr Camille MARTIN", HOLDER_ADDRESS, NUMBER, "CPS", "28/02/2029")
# The station tests' pin_and_puk (tests/stations/conftest.py) reads the codes with these, on the raw bytes.
PIN_IN_PDF, PUK_IN_PDF = rb"PIN\\\) : (\d{4})", rb"PUK\\\) : (\d{8})"
URL = re.compile(r"https?://[^\s)]+")


@pytest.fixture(autouse=True)
def letter_settings(settings):
    settings.CPX_LETTER_RETURN_ADDRESS = [
        "Agence du Numérique en Santé — Service CPx",
        "9 rue Test",
        "75015 Paris",
    ]
    settings.CPX_OPPOSITION_PHONE = "01 99 00 45 67"
    settings.CPX_BASE_URL = "https://cpx.example.fr/"
    return settings


def codes_letter(**extra) -> bytes:
    return mailers.render_pin_mailer(TO, pin=PIN, puk=PUK, **{"reference": "J-77", "dated": DAY, **extra})


def carrier(**extra) -> bytes:
    return mailers.render_carrier(TO, **{"reference": "J-77", "dated": DAY, **extra})


def reissue(**extra) -> bytes:
    args = {
        "puk": PUK,
        "reference": "RC-2026-0042",
        "card_number": NUMBER,
        "requested_on": dt.date(2026, 2, 26),
    }
    return mailers.render_codes_reissue(TO, **{**args, "dated": DAY, **extra})


LETTERS = {"codes": codes_letter, "carrier": carrier, "reissue": reissue}


def lines_of(pdf: bytes) -> list[str]:
    """The page's lines of text in drawing order (one PDF string each). The page streams are uncompressed;
    the standard fonts encode the text as WinAnsi (cp1252)."""
    strings = re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", pdf, flags=re.S)
    return [_unescape(string).decode("cp1252") for string in strings]


def text_of(pdf: bytes) -> str:
    """The lines joined by a space, so that a phrase cut by the wrapping reads whole."""
    return re.sub(r"\s+", " ", " ".join(lines_of(pdf)))


def _unescape(string: bytes) -> bytes:
    simple = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}

    def one(match: re.Match[bytes]) -> bytes:
        code = match.group(1)
        return bytes([int(code, 8)]) if code[:1].isdigit() else simple.get(code, code)

    return re.sub(rb"\\([0-7]{1,3}|.)", one, string, flags=re.S)


def sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s", text)


def pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b(?!s)", pdf))


# --- what every letter carries ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", LETTERS)
def test_every_letter_says_who_sends_it_when_and_under_which_reference(kind):
    text = text_of(LETTERS[kind]())
    for line in ("Agence du Numérique en Santé — Service CPx", "9 rue Test", "75015 Paris"):
        assert line in text
    assert "Le 1er mars 2026" in text
    reference = "RC-2026-0042" if kind == "reissue" else "J-77"
    assert f"Réf. : {reference}" in text
    assert SHOWN in text


@pytest.mark.parametrize("kind", LETTERS)
def test_every_letter_is_addressed_to_the_holder_in_the_envelope_window(kind):
    text = text_of(LETTERS[kind]())
    assert "Dr Camille MARTIN Cabinet des Lilas 1 rue de la Paix 75002 PARIS" in text


@pytest.mark.parametrize("kind", LETTERS)
def test_every_letter_gives_the_number_to_call_and_the_page_to_oppose_the_card(kind):
    text = text_of(LETTERS[kind]())
    assert "Opposition (carte perdue ou volée) : 01 99 00 45 67" in text  # the header, under the sender
    assert "appelez le 01 99 00 45 67" in text
    assert "« Déclarer cette carte perdue, volée ou endommagée » (https://cpx.example.fr/cards/)" in text


@pytest.mark.parametrize("kind", LETTERS)
def test_no_letter_tells_to_type_a_code_on_a_web_page(kind):
    typing = re.compile(r"\b(tap|saisi|entr)", re.I)
    web = re.compile(r"portail|site|page web|https?://", re.I)
    for sentence in sentences(text_of(LETTERS[kind]())):
        if typing.search(sentence) and web.search(sentence):
            assert "jamais" in sentence.lower(), sentence


@pytest.mark.parametrize("kind", LETTERS)
def test_every_letter_is_one_page(kind):
    assert pages(LETTERS[kind]()) == 1


def test_the_sender_defaults_to_the_agencys_cpx_service(settings, monkeypatch):
    monkeypatch.delenv("CPX_LETTER_RETURN_ADDRESS", raising=False)
    monkeypatch.delenv("CPX_OPPOSITION_PHONE", raising=False)
    defaults = _fresh_settings_module()
    assert defaults.CPX_LETTER_RETURN_ADDRESS[0] == "Agence du numérique en santé — Service CPx"
    assert re.fullmatch(r"0\d( \d\d){4}", defaults.CPX_OPPOSITION_PHONE)
    settings.CPX_LETTER_RETURN_ADDRESS = defaults.CPX_LETTER_RETURN_ADDRESS
    assert "Agence du numérique en santé — Service CPx" in text_of(codes_letter())


@pytest.mark.parametrize("kind", LETTERS)
def test_no_line_starts_with_french_punctuation_nor_cuts_the_phone_number(kind):
    for line in lines_of(LETTERS[kind]()):
        assert not line.startswith((":", ";", "?", "»")) and not line.endswith("«"), line
        assert "01 99" not in line or "01 99 00 45 67" in line, line


def test_the_portal_path_on_the_letters_is_the_portals_cards_page():
    assert reverse("portal:cards") == mailers.PORTAL_CARDS_PATH


# --- the codes letter ---------------------------------------------------------------------------------------


def test_the_codes_are_drawn_where_the_print_run_and_the_station_tests_read_them():
    pdf = codes_letter()
    assert re.search(PIN_IN_PDF, pdf).group(1) == PIN.encode()
    assert re.search(PUK_IN_PDF, pdf).group(1) == PUK.encode()
    text = text_of(pdf)
    assert f"Code porteur (PIN) : {PIN}" in text and f"Code de déblocage (PUK) : {PUK}" in text
    assert text.count(PIN) == 1 and text.count(PUK) == 1


def test_the_codes_letter_explains_what_each_code_is_for():
    text = text_of(codes_letter())
    assert "Le code porteur (PIN, 4 chiffres) prouve que c'est bien vous" in text
    assert "cpx-card change-pin" in text
    assert "Le code de déblocage (PUK, 8 chiffres) ne sert qu'à débloquer la carte" in text
    assert "Trois codes porteur faux bloquent la carte" in text
    assert "cpx-card unblock" in text
    assert "Trois codes de déblocage faux rendent la carte définitivement inutilisable" in text


def test_the_codes_letter_says_where_to_type_the_codes_and_never_to_tell_them():
    text = text_of(codes_letter())
    assert (
        "Tapez vos codes uniquement dans l'agent de carte cpx-card ou dans le logiciel de votre lecteur"
        in text
    )
    assert "Jamais sur une page web" in text
    assert "Ne les dites à personne, pas même au service d'assistance" in text


def test_the_codes_letter_says_to_keep_it_apart_from_the_card():
    text = text_of(codes_letter())
    assert "Ne conservez pas ce courrier avec la carte" in text
    assert "la carte et ses codes voyagent séparément" in text
    assert "La carte elle-même vous parvient dans un courrier séparé" in text


def test_the_only_address_on_the_codes_letter_is_the_opposition_page():
    text = text_of(codes_letter())
    assert set(URL.findall(text)) == {"https://cpx.example.fr/cards/"}
    (sentence,) = [s for s in sentences(text) if URL.search(s)]
    assert "appelez le 01 99 00 45 67" in sentence and "Déclarer cette carte perdue" in sentence


def test_the_callers_without_a_reference_or_a_date_get_the_card_and_today():
    with freeze_time("2026-11-02 10:00"):
        pdf = mailers.render_pin_mailer(TO, pin=PIN, puk=PUK)
    text = text_of(pdf)
    assert "Le 2 novembre 2026" in text and f"Réf. : CODES-{NUMBER}" in text
    assert re.search(PIN_IN_PDF, pdf) and re.search(PUK_IN_PDF, pdf)


# --- the carrier letter -------------------------------------------------------------------------------------


def test_the_carrier_frames_the_card_at_its_size_where_it_is_glued_labelled():
    pdf = carrier()
    frames = [box for box in _closed_paths(pdf) if _size(box) == pytest.approx((85.6 * mm, 54 * mm), abs=0.1)]
    assert len(frames) == 1
    left, bottom, right, top = frames[0]
    assert (left, bottom) == pytest.approx((mailers.CARD_X, mailers.CARD_Y), abs=0.1)
    assert left > 0 and right < A4[0] and bottom > 12 * mm
    assert top < A4[1] / 3  # the lowest third of the sheet: no fold of the DL envelope crosses the card
    text = text_of(pdf)
    assert "Votre carte est collée ici : détachez-la doucement." in text
    assert f"Emplacement de la carte CPS n° {SHOWN}" in text


def test_the_carrier_tells_how_to_activate_the_card_with_the_agent():
    text = text_of(carrier())
    assert "Activer la carte (elle ne fonctionne pas avant)" in text
    assert (
        "Sur le portail CPx (https://cpx.example.fr/cards/), rubrique « Mes cartes », ouvrez cette carte"
        in text
    )
    assert f"cpx-card sign --card {NUMBER} '…'" in text
    assert "cpx-card vous demande votre code porteur : tapez-le là, jamais sur le portail" in text


def test_the_carrier_says_what_the_card_is_and_that_the_codes_come_apart():
    text = text_of(carrier())
    assert f"Voici votre carte CPS n° {SHOWN}, valable jusqu'au 28/02/2029" in text
    assert "vous parviennent dans un courrier séparé" in text
    assert "la carte et ses codes ne voyagent jamais ensemble" in text


def test_the_carrier_holds_no_code():
    pdf = carrier()
    assert not re.search(rb"PIN\\\) :", pdf) and not re.search(rb"PUK\\\) :", pdf)


# --- the re-issued codes letter -----------------------------------------------------------------------------


def test_the_reissue_letter_gives_the_puk_alone():
    pdf = reissue()
    assert re.search(PUK_IN_PDF, pdf).group(1) == PUK.encode()
    assert not re.search(rb"PIN\\\) :", pdf)
    text = text_of(pdf)
    assert f"Code de déblocage (PUK) : {PUK}" in text
    assert "Votre code porteur (PIN) n'est pas dans ce courrier" in text


def test_the_reissue_letter_tells_how_to_set_a_new_pin_with_the_puk():
    text = text_of(reissue())
    assert (
        "lancez la commande ci-dessous, tapez ce code de déblocage, puis deux fois votre nouveau code" in text
    )
    assert "cpx-card unblock" in text
    assert "Trois codes de déblocage faux rendent la carte définitivement inutilisable" in text


def test_the_reissue_letter_names_the_request_and_its_day():
    text = text_of(reissue())
    assert "Le 26 février 2026, un nouvel envoi des codes de votre carte CPS" in text
    assert "(demande n° RC-2026-0042)" in text


def test_the_reissue_letter_says_what_to_do_if_nobody_asked():
    text = text_of(reissue())
    assert "Vous n'avez rien demandé ?" in text
    assert (
        "Quelqu'un a peut-être tenté de se faire passer pour vous : appelez sans attendre le 01 99 00 45 67"
        in text
    )
    assert "ne le communiquez à personne" in text


def test_the_reissue_letter_names_the_card_it_is_for_not_the_addressees_record():
    text = text_of(reissue(card_number="80250000010000000099"))
    assert "8025000001/0000000099" in text


# --- the page -----------------------------------------------------------------------------------------------


def test_a_letter_with_room_to_spare_for_long_addresses_and_urls(settings):
    settings.CPX_BASE_URL = "https://cartes-cpx.esante.gouv.fr/portail-des-professionnels"
    long = mailers.Addressee("Madame la Docteure Marie-Christine DE LA TOUR-DUPONT-MONTMORENCY",
                             ("Centre hospitalier intercommunal", "Bâtiment B, 3e étage, porte 312",
                              "12 avenue du Maréchal de Lattre de Tassigny", "94000 CRÉTEIL CEDEX 12"),
                             NUMBER, "CPS", "28/02/2029")  # fmt: skip
    for render in (
        lambda: mailers.render_pin_mailer(long, pin=PIN, puk=PUK),
        lambda: mailers.render_carrier(long),
        lambda: mailers.render_codes_reissue(
            long, puk=PUK, reference="R" * 30, card_number=NUMBER, requested_on=DAY
        ),  # fmt: skip
    ):
        assert pages(render()) == 1


def test_a_text_that_would_run_past_the_page_or_onto_the_card_is_refused(monkeypatch):
    monkeypatch.setattr(mailers, "KEEP_APART", "Un paragraphe bien trop long. " * 150)
    with pytest.raises(mailers.LetterOverflow):
        codes_letter()
    with pytest.raises(mailers.LetterOverflow):
        mailers.render_carrier(mailers.Addressee("X", (), NUMBER, "CPS " * 400, "28/02/2029"))


def _closed_paths(pdf: bytes) -> list[tuple[float, float, float, float]]:
    """The bounding boxes of the page's closed paths (``m`` ... ``h``)."""
    boxes = []
    for path in re.findall(rb"\n([-\d. ]+ m\n.*?)\nh\n", pdf, flags=re.S):
        numbers = [float(n) for n in re.findall(rb"-?\d+(?:\.\d+)?", path)]
        xs, ys = numbers[0::2], numbers[1::2]
        boxes.append((min(xs), min(ys), max(xs), max(ys)))
    return boxes


def _size(box: tuple[float, float, float, float]) -> tuple[float, float]:
    return box[2] - box[0], box[3] - box[1]


def _fresh_settings_module():
    """config/settings.py run again, as a process would read it from its environment."""
    import importlib.util

    from config import settings as loaded

    spec = importlib.util.spec_from_file_location("config.fresh_settings", loaded.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("width", range(30, 90, 3))
def test_the_wrapping_never_cuts_before_french_punctuation_nor_inside_a_guillemet(width):
    lines = mailers._wrap(
        "Appelez le service : « Mes cartes » ; la carte ? oui ! " * 6, mailers.REGULAR, 10, width * mm
    )
    assert len(lines) > 1
    assert not any(line.startswith((":", ";", "?", "!", "»")) or line.endswith("«") for line in lines), lines


def test_a_letter_is_the_same_whatever_was_rendered_before_it():
    """The text objects' operators are reused across letters (mailers._TEXT_CODE): a letter drawn on a warm
    cache, after the other kinds, is byte for byte the one drawn on a cold cache."""
    mailers._TEXT_CODE.items.clear()
    cold = {name: render() for name, render in LETTERS.items()}
    for name in reversed(LETTERS):
        assert LETTERS[name]() == cold[name]


def test_the_codes_never_reach_the_reused_text():
    codes_letter()
    cached = " ".join(mailers._TEXT_CODE.items.values())
    assert PIN not in cached and PUK not in cached
