"""The codes through the agent on a development card: change the PIN, three wrong PINs block it (the right
one is then refused too), the PUK unblocks it and resets the count, three wrong PUKs kill the card."""

from .conftest import state


def test_change_pin_replaces_the_pin(make_card, agent):
    card = make_card()
    result = agent("change-pin", codes=[card.pin, "5829", "5829"])
    assert result.returncode == 0, result.stderr
    assert "PIN changé" in result.stderr
    assert agent("sign", "hello", codes=[card.pin]).returncode == 2
    assert agent("sign", "hello", codes=["5829"]).returncode == 0


def test_a_mistyped_confirmation_changes_nothing_and_costs_no_try(make_card, agent, store):
    card = make_card()
    result = agent("change-pin", codes=[card.pin, "5829", "5828"])
    assert result.returncode == 1 and "diffèrent" in result.stderr
    assert agent("sign", "hello", codes=[card.pin]).returncode == 0
    assert "PIN : 3 essais restants" in agent("show").stdout


def test_a_malformed_code_is_not_tried(make_card, agent):
    make_card()
    result = agent("sign", "hello", codes=["12a4"])
    assert result.returncode == 1 and "aucun essai n'a été compté" in result.stderr
    assert "PIN : 3 essais restants" in agent("show").stdout


def test_three_wrong_pins_block_the_card_and_then_the_right_pin_is_refused(make_card, agent):
    card = make_card()
    first = agent("sign", "hello", codes=["0000"])
    assert first.returncode == 2 and "PIN incorrect : il reste 2 essais." in first.stderr
    second = agent("change-pin", codes=["0000", "1111", "1111"])
    assert second.returncode == 2 and "il reste 1 essai." in second.stderr
    third = agent("sign", "hello", codes=["0000"])
    assert third.returncode == 3 and "le PIN est désormais bloqué" in third.stderr
    right = agent("sign", "hello", codes=[card.pin])
    assert right.returncode == 3 and "Le PIN de cette carte est bloqué" in right.stderr
    assert agent("change-pin", codes=[card.pin, "1111", "1111"]).returncode == 3
    assert "PIN : bloqué" in agent("show").stdout


def test_a_right_pin_resets_the_count(make_card, agent):
    card = make_card()
    for _ in range(2):
        assert agent("sign", "hello", codes=["0000"]).returncode == 2
    assert agent("sign", "hello", codes=[card.pin]).returncode == 0
    again = agent("sign", "hello", codes=["0000"])
    assert again.returncode == 2 and "il reste 2 essais" in again.stderr


def test_the_puk_unblocks_with_a_new_pin_and_resets_the_count(make_card, agent):
    card = make_card()
    for _ in range(3):
        agent("sign", "hello", codes=["0000"])
    wrong = agent("unblock", codes=["11112222", "4682", "4682"])
    assert wrong.returncode == 2 and "PUK incorrect : il reste 2 essais." in wrong.stderr
    result = agent("unblock", codes=["4091 7263", "4682", "4682"])  # as printed on the letter
    assert result.returncode == 0, result.stderr
    assert "Carte débloquée" in result.stderr
    out = agent("show").stdout
    assert "PIN : 3 essais restants" in out and "PUK : 3 essais restants" in out
    assert agent("sign", "hello", codes=[card.pin]).returncode == 2  # the old PIN is gone
    assert agent("sign", "hello", codes=["4682"]).returncode == 0


def test_three_wrong_puks_kill_the_card_for_good(make_card, agent, store):
    card = make_card()
    assert agent("unblock", codes=["11112222", "4682", "4682"]).returncode == 2
    assert agent("unblock", codes=["11112223", "4682", "4682"]).returncode == 2
    third = agent("unblock", codes=["11112224", "4682", "4682"])
    assert third.returncode == 3 and "la carte est désormais hors d'usage" in third.stderr
    right = agent("unblock", codes=[card.puk, "4682", "4682"])
    assert right.returncode == 3 and "hors d'usage" in right.stderr
    assert agent("helpdesk", "--challenge").returncode == 3
    assert agent("sign", "hello", codes=[card.pin]).returncode == 3
    assert "carte hors d'usage" in agent("show").stdout
    serial = next(iter(state(store)["cards"]))
    assert state(store)["cards"][serial] == {"pin_failures": 0, "puk_failures": 3}
