"""The card's codes: what the agent knows of their state, and the errors that end a command.

Every error carries the exit code the holder's scripts see (docs/cpx-card.md): 1 for anything but the
codes, 2 for a wrong code (the tries left are in the message), 3 for a blocked PIN or a dead card. The
messages are French and never contain a code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EXIT_OK, EXIT_ERROR, EXIT_WRONG_CODE, EXIT_BLOCKED = 0, 1, 2, 3

PIN_PATTERN = re.compile(r"\d{4,8}")  # the codes letter's PIN has 4 digits; a holder may choose up to 8
PUK_PATTERN = re.compile(r"\d{8}")
SEPARATORS = re.compile(r"[\s-]+")  # "1234 5678" and "1234-5678" as printed on letters and screens

UNBLOCK_HINT = (
    "Débloquez-la avec le PUK du courrier de codes (cpx-card unblock) ou par le service d'assistance."
)
DEAD_HINT = "Elle ne peut plus être débloquée : faites-la remplacer (commande d'une nouvelle carte)."


class CardError(Exception):
    """A command could not be done; the message is for the holder."""

    exit_code = EXIT_ERROR


class WrongCode(CardError):
    exit_code = EXIT_WRONG_CODE


class CardBlocked(CardError):
    """The PIN is blocked, or the card is dead (the PUK is blocked too)."""

    exit_code = EXIT_BLOCKED


@dataclass(frozen=True)
class Status:
    """The codes' state. ``None`` tries left: the chip does not say how many (real cards only tell
    "count low" and "final try")."""

    pin_left: int | None
    puk_left: int | None
    pin_blocked: bool = False
    dead: bool = False
    pin_low: bool = False

    def refuse(self, code: str) -> None:
        """Raise before a code is tried on a card that would refuse it anyway."""
        if self.dead:
            raise blocked("PUK")
        if code == "PIN" and self.pin_blocked:
            raise blocked("PIN")


def blocked(code: str) -> CardBlocked:
    if code == "PIN":
        return CardBlocked(f"Le PIN de cette carte est bloqué. {UNBLOCK_HINT}")
    return CardBlocked(f"Cette carte est hors d'usage : son PUK est bloqué. {DEAD_HINT}")


def tries(left: int) -> str:
    return f"il reste {left} essai" + ("s" if left > 1 else "")


def wrong_code(code: str, status: Status, *, what: str = "") -> CardError:
    """The error for a wrong ``code`` ("PIN" or "PUK"), given the state after the failure."""
    what = what or f"{code} incorrect"
    if status.dead:
        return CardBlocked(f"{what} : la carte est désormais hors d'usage. {DEAD_HINT}")
    if code == "PIN" and status.pin_blocked:
        return CardBlocked(f"{what} : le PIN est désormais bloqué. {UNBLOCK_HINT}")
    left = status.pin_left if code == "PIN" else status.puk_left
    if left is not None:
        return WrongCode(f"{what} : {tries(left)}.")
    return WrongCode(f"{what}." + (" Attention : il reste peu d'essais." if status.pin_low else ""))


def pin_format(text: str) -> str:
    if not PIN_PATTERN.fullmatch(text):
        raise CardError("Un PIN a de 4 à 8 chiffres (aucun essai n'a été compté).")
    return text


def puk_format(text: str) -> str:
    text = SEPARATORS.sub("", text)
    if not PUK_PATTERN.fullmatch(text):
        raise CardError("Le PUK a 8 chiffres (aucun essai n'a été compté).")
    return text
