"""A real card counts on its chip: the agent reads the token flags its module reports (CKF_USER_PIN_* and
CKF_SO_PIN_*) to refuse a code the chip would refuse and to word a wrong code's message."""

import pytest
from pkcs11 import TokenFlag

from cpxcard.card import ChipCounter
from cpxcard.codes import CardBlocked, WrongCode


class Slot:
    """What the module says of the card in the reader (C_GetTokenInfo), as python-pkcs11 hands it."""

    def __init__(self, flags):
        self.flags = flags

    def get_token(self):
        return self


INITIALIZED = TokenFlag.TOKEN_INITIALIZED | TokenFlag.USER_PIN_INITIALIZED


def test_a_fresh_card_takes_both_codes_without_a_count():
    status = ChipCounter(Slot(INITIALIZED)).status()
    assert (status.pin_left, status.puk_left, status.pin_blocked, status.dead) == (None, None, False, False)
    status.refuse("PIN")
    status.refuse("PUK")


@pytest.mark.parametrize(
    ("flags", "message", "error"),
    [
        (TokenFlag.USER_PIN_COUNT_LOW, "PIN incorrect. Attention : il reste peu d'essais.", WrongCode),
        (TokenFlag.USER_PIN_FINAL_TRY, "PIN incorrect : il reste 1 essai.", WrongCode),
        (TokenFlag.USER_PIN_LOCKED, "PIN incorrect : le PIN est désormais bloqué.", CardBlocked),
        (TokenFlag.SO_PIN_LOCKED, "PIN incorrect : la carte est désormais hors d'usage.", CardBlocked),
    ],
)
def test_a_wrong_pin_is_worded_from_the_flags_after_it(flags, message, error):
    slot = Slot(INITIALIZED)
    counter = ChipCounter(slot)
    with pytest.raises(error) as raised, counter.attempt("PIN") as attempt:
        slot.flags = INITIALIZED | flags  # the chip counted the wrong PIN
        attempt.wrong()
    assert str(raised.value).startswith(message)


def test_a_locked_pin_is_not_tried_but_the_puk_still_is():
    counter = ChipCounter(Slot(INITIALIZED | TokenFlag.USER_PIN_LOCKED))
    with pytest.raises(CardBlocked), counter.attempt("PIN"):
        pytest.fail("the PIN was tried")
    with counter.attempt("PUK") as attempt:
        attempt.right()


def test_a_locked_puk_makes_the_card_dead():
    counter = ChipCounter(Slot(INITIALIZED | TokenFlag.SO_PIN_LOCKED))
    assert counter.status().dead
    with pytest.raises(CardBlocked, match="hors d'usage"), counter.attempt("PUK"):
        pytest.fail("the PUK was tried")
