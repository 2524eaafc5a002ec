"""cpx-card helpdesk: the challenge read out on the phone, the help desk's response, a new PIN. The
responses are computed here from the protocol and the test's help-desk key (conftest.helpdesk_response),
written on the card as its CPX_UNBLOCK object."""

import pytest

from .conftest import challenge_from, helpdesk_response, start_agent


def _block(agent, card):
    for _ in range(3):
        agent("sign", "hello", codes=["0000"])
    assert agent("sign", "hello", codes=[card.pin]).returncode == 3


def _interactive(store, card, answer):
    """Run the interactive form: read the challenge it prints, answer ``answer(challenge)``, new PIN twice."""
    process = start_agent(store, "helpdesk")
    lines = []
    while True:
        line = process.stdout.readline()
        assert line, process.stderr.read()
        lines.append(line)
        if line.strip().count("-") >= 12:
            break
    challenge = challenge_from("".join(lines))
    out, err = process.communicate(f"{answer(challenge)}\n4682\n4682\n", timeout=60)
    return process.returncode, "".join(lines) + out, err, challenge


def test_the_interactive_form_unblocks_with_the_help_desks_response(make_card, agent, store, helpdesk_key):
    card = make_card()
    _block(agent, card)
    code, out, err, challenge = _interactive(
        store, card, lambda challenge: helpdesk_response(helpdesk_key, card.number, challenge, card.puk)
    )
    assert code == 0, err
    assert f"Carte : {card.number}" in out and "Carte débloquée" in err
    groups = challenge.split("-")
    assert len(groups) == 14 and all(len(g) == 4 for g in groups[:-1]) and challenge == challenge.upper()
    assert agent("sign", "hello", codes=["4682"]).returncode == 0
    assert "PIN : 3 essais restants" in agent("show").stdout


def test_the_two_step_form_keeps_the_challenge_on_the_card(make_card, agent, helpdesk_key):
    card = make_card()
    _block(agent, card)
    first = agent("helpdesk", "--challenge")
    assert first.returncode == 0, first.stderr
    challenge = challenge_from(first.stdout)
    assert "un défi est en cours" in agent("show").stdout
    response = helpdesk_response(helpdesk_key, card.number, challenge, card.puk)
    second = agent("helpdesk", "--response", codes=[response, "4682", "4682"])
    assert second.returncode == 0, second.stderr
    assert agent("sign", "hello", codes=["4682"]).returncode == 0
    assert "un défi est en cours" not in agent("show").stdout


def test_the_response_may_be_given_on_the_command_line(make_card, agent, helpdesk_key):
    """As the brief writes it (`--response 12345678`): the response is good for one attempt only."""
    card = make_card()
    challenge = challenge_from(agent("helpdesk", "--challenge").stdout)
    response = helpdesk_response(helpdesk_key, card.number, challenge, card.puk).replace(" ", "")
    result = agent("helpdesk", "--response", response, codes=["4682", "4682"])
    assert result.returncode == 0, result.stderr


def test_a_wrong_response_counts_as_a_puk_try(make_card, agent, store, helpdesk_key):
    card = make_card()
    code, _out, err, _challenge = _interactive(store, card, lambda challenge: "1234 5678")
    assert code == 2 and "Réponse du service d'assistance incorrecte" in err and "il reste 2 essais" in err
    assert "PUK : 2 essais restants" in agent("show").stdout
    # a response for another card's number does not fit this card either
    challenge = challenge_from(agent("helpdesk", "--challenge").stdout)
    other = helpdesk_response(helpdesk_key, "80250000010000000999", challenge, card.puk)
    assert agent("helpdesk", "--response", codes=[other, "4682", "4682"]).returncode == 2
    assert "PUK : 1 essai restant" in agent("show").stdout


def test_a_consumed_challenge_cannot_be_used_again(make_card, agent, helpdesk_key):
    card = make_card()
    challenge = challenge_from(agent("helpdesk", "--challenge").stdout)
    assert agent("helpdesk", "--response", codes=["1111 1111", "4682", "4682"]).returncode == 2
    right = helpdesk_response(helpdesk_key, card.number, challenge, card.puk)
    again = agent("helpdesk", "--response", codes=[right, "4682", "4682"])
    assert again.returncode == 1 and "Aucun défi en cours" in again.stderr
    assert "PUK : 2 essais restants" in agent("show").stdout  # refused before any try


def test_a_new_challenge_replaces_the_previous_one(make_card, agent, helpdesk_key):
    card = make_card()
    old = challenge_from(agent("helpdesk", "--challenge").stdout)
    new = challenge_from(agent("helpdesk", "--challenge").stdout)
    assert new != old
    stale = helpdesk_response(helpdesk_key, card.number, old, card.puk)
    assert agent("helpdesk", "--response", codes=[stale, "4682", "4682"]).returncode == 2


@pytest.mark.parametrize("form", [["--challenge"], ["--response"], []])
def test_a_card_without_the_help_desk_key_says_so(make_card, agent, form):
    make_card(unblock=False)
    result = agent("helpdesk", *form, codes=["12345678", "4682", "4682"])
    assert result.returncode == 1 and "pas d'objet CPX_UNBLOCK" in result.stderr
