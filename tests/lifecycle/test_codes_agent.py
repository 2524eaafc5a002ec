"""End to end through the holder's agent (bin/cpx-card) on SoftHSM2 cards personalized by a station: the
help-desk unblock (challenge read out, request, a second operator's approval, the response typed back)
and the codes letter re-issued (request, approval, print run, the printed PUK typed into the agent)."""

import base64
import os
import re
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from rest_framework.test import APIClient

from lifecycle import printing
from pki import unblock
from stations import personalization
from tests.factories import PASSWORD
from tests.stations.conftest import (  # noqa: F401 (fixtures)
    SOFTHSM,
    ca_keys,
    card_key,
    fast_passwords,
    hierarchy,
    holder,
    pin_and_puk,
    pki_dir,
    queued_order,
    scheduled,
    station,
)

from .test_codes import CHECK, printed_puk

pytestmark = pytest.mark.django_db

AGENT = Path(settings.BASE_DIR) / "bin" / "cpx-card"
CHALLENGE = re.compile(r"^\s+([A-Z2-7]{4}(?:-[A-Z2-7]{1,4})+)\s*$", re.MULTILINE)
NEW_PIN = "2468"


def agent(station, card, *args: str, codes: tuple[str, ...] = ()) -> subprocess.CompletedProcess:  # noqa: F811
    """``cpx-card <args> --card <number>``, the codes one per line on standard input (not a terminal)."""
    command, *rest = args
    env = {**os.environ, "SOFTHSM2_CONF": station.softhsm_conf, "CPX_CARD_MODULE": SOFTHSM}
    return subprocess.run(
        [str(AGENT), command, "--card", card.number, *rest],
        input="".join(f"{code}\n" for code in codes),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def block_the_pin(station, card, pin: str) -> None:  # noqa: F811
    """The holder forgot the PIN: three wrong ones, then the card refuses the PIN altogether."""
    wrong = "0000" if pin != "0000" else "1111"
    for _ in range(3):
        result = agent(station, card, "change-pin", codes=(wrong, "9999", "9999"))
        assert result.returncode == 2 or result.returncode == 3, result.stderr
    assert agent(station, card, "change-pin", codes=(pin, "9999", "9999")).returncode == 3
    assert "bloqué" in agent(station, card, "show").stdout


def assert_the_pin_works(station, card, pin: str) -> None:  # noqa: F811
    """The new PIN signs with the card's authentication key (checked with its certificate)."""
    result = agent(station, card, "sign", "cpx-test|the new PIN works", codes=(pin,))
    assert result.returncode == 0, result.stderr
    signature = base64.b64decode(result.stdout.strip().splitlines()[-1])
    der = bytes(card.certificates.get(usage="auth").der)
    public = x509.load_der_x509_certificate(der).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, b"cpx-test|the new PIN works", padding.PKCS1v15(), hashes.SHA256())


def challenge_from_the_card(station, card) -> str:  # noqa: F811
    shown = agent(station, card, "helpdesk", "--challenge")
    assert shown.returncode == 0, shown.stderr
    found = CHALLENGE.search(shown.stdout)
    assert found, shown.stdout
    return found.group(1)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def help_desk_response(card, challenge, requester, approver, capture) -> str:
    """The help desk's side, through the API: open, a second operator approves, the requester reads it."""
    opened = client_for(requester).post(
        f"/api/v1/cards/{card.pk}/unblock-requests/",
        {"challenge": challenge, "identity_check": CHECK},
        format="json",
    )
    assert opened.status_code == 201, opened.content
    row = opened.json()
    with capture(execute=True):
        approved = client_for(approver).post(
            f"/api/v1/approvals/{row['approval_request']}/approve/", {}, format="json"
        )
    assert approved.status_code == 200, approved.content
    shown = client_for(requester).post(f"/api/v1/unblock-requests/{row['id']}/response/")
    assert shown.status_code == 200, shown.content
    return shown.json()["display"]  # as read out on the phone: "1234 5678"


def test_the_help_desk_unblocks_a_blocked_card_through_the_agent(
    station,  # noqa: F811
    queued_order,  # noqa: F811
    ans,
    cnom,
    django_capture_on_commit_callbacks,
):
    card = personalization.personalize_order(order_id=queued_order.pk, station=station)
    pin, _puk = pin_and_puk(card)
    block_the_pin(station, card, pin)

    challenge = challenge_from_the_card(station, card)
    response = help_desk_response(card, challenge, ans, cnom, django_capture_on_commit_callbacks)
    done = agent(station, card, "helpdesk", "--response", response, codes=(NEW_PIN, NEW_PIN))
    assert done.returncode == 0, done.stderr
    assert_the_pin_works(station, card, NEW_PIN)
    # The challenge served once: the same response again finds nothing to answer.
    assert agent(station, card, "helpdesk", "--response", response, codes=(NEW_PIN, NEW_PIN)).returncode != 0


def test_a_wrong_response_is_a_wrong_puk_try_and_three_kill_the_card(
    station,  # noqa: F811
    queued_order,  # noqa: F811
    ans,
    cnom,
    django_capture_on_commit_callbacks,
):
    card = personalization.personalize_order(order_id=queued_order.pk, station=station)
    challenge = challenge_from_the_card(station, card)
    right = help_desk_response(card, challenge, ans, cnom, django_capture_on_commit_callbacks).replace(
        " ", ""
    )
    wrong = f"{(int(right) + 1) % 10**8:08d}"
    first = agent(station, card, "helpdesk", "--response", wrong, codes=(NEW_PIN, NEW_PIN))
    assert first.returncode == 2, first.stderr
    assert "PUK : 2 essais restants" in agent(station, card, "show").stdout
    # The challenge was consumed by that attempt: the right response no longer unblocks.
    assert agent(station, card, "helpdesk", "--response", right, codes=(NEW_PIN, NEW_PIN)).returncode != 0
    for _ in range(2):
        challenge_from_the_card(station, card)
        attempt = agent(station, card, "helpdesk", "--response", wrong, codes=(NEW_PIN, NEW_PIN))
        assert attempt.returncode in (2, 3), attempt.stderr
    assert "hors d'usage" in agent(station, card, "show").stdout
    assert agent(station, card, "helpdesk", "--challenge").returncode == 3


def test_the_codes_letter_sent_again_unblocks_the_card_in_the_agent(
    station,  # noqa: F811
    queued_order,  # noqa: F811
    holder_of,
    cnom,
    tmp_path,
    django_capture_on_commit_callbacks,
):
    card = personalization.personalize_order(order_id=queued_order.pk, station=station)
    pin, _puk = pin_and_puk(card)
    block_the_pin(station, card, pin)
    person = holder_of(card)
    person.set_password(PASSWORD)
    person.save()

    asked = client_for(person).post(
        f"/api/v1/cards/{card.pk}/codes-reissue/", {"password": PASSWORD}, format="json"
    )
    assert asked.status_code == 201, asked.content
    with django_capture_on_commit_callbacks(execute=True):
        approved = client_for(cnom).post(
            f"/api/v1/approvals/{asked.json()['approval_request']}/approve/", {}, format="json"
        )
    assert approved.status_code == 200, approved.content
    run = printing.pin_mailers_print(out_dir=tmp_path)
    assert run.printed == 1  # the re-issued letter (the first one waits for its card's shipment)
    puk = printed_puk(run.files[0].read_bytes())
    assert puk == unblock.puk_for(card.number, 1)

    done = agent(station, card, "unblock", codes=(puk, NEW_PIN, NEW_PIN))
    assert done.returncode == 0, done.stderr
    assert_the_pin_works(station, card, NEW_PIN)
