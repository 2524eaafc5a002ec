"""Building blocks of the e-CPS tests, shared by the client tests and the browser journeys."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import shlex
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from django.core.management import call_command

from cards import services as card_services
from cards.models import Card
from ecps.models import ECps
from orders.models import Order
from registry.models import Account, Exercise, Professional
from stations import personalization, tokens
from stations.models import PersonalizationJob, ReaderStation
from tests.factories import ActivityFactory, ExerciseFactory, OrderFactory, ProfessionalFactory, persona

SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"
DEMO_REDIRECT = "/ecps/demo-rp/callback"


def rpps_doctor(**fields: Any) -> Exercise:
    """A médecin registered in RPPS, with an e-mail address, a mobile number and two situations."""
    person = ProfessionalFactory(mobile="+33612345678", **fields)
    exercise: Any = ExerciseFactory(professional=person, profession_id="10")
    ActivityFactory(exercise=exercise, mode_id="L", activity_key="L|cabinet")
    ActivityFactory(exercise=exercise, mode_id="S", activity_key="S|hopital")
    return exercise


def ecps_row(exercise: Exercise, state: str = ECps.State.ACTIVE, n: int = 0) -> ECps:
    """An e-CPS row as the registration writes it (tests only; the platform creates them by enrolment)."""
    ecps = ECps(
        holder=exercise.professional,
        exercise=exercise,
        state=state,
        activation_method=ECps.Method.CODES,
        credential_id=f"cred-{exercise.pk}-{n}",
        public_key=b"k",
        user_handle="h",
    )
    ecps.save()
    return ecps


def holder_of(person: Professional) -> Any:
    return persona(Account.Role.HOLDER, professional=person)


def station(tmp_path: Path, settings: Any) -> ReaderStation:
    settings.CPX_STATIONS_DIR = tmp_path / "stations"
    call_command("station_register", "ecps", "--readers", "1", "--blanks", "2", "--module", SOFTHSM)
    return ReaderStation.objects.get(name="ecps")


def personalized_card(exercise: Exercise, station: ReaderStation) -> tuple[Card, str]:
    """A real card on a SoftHSM2 token (keys made on the token by issuance), activated; with its PIN."""
    order: Any = OrderFactory(exercise=exercise, state=Order.State.QUEUED)
    card = personalization.personalize_order(order_id=order.pk, station=station)
    assert card is not None
    Card.objects.filter(pk=card.pk).update(state=Card.State.ACTIVE)
    card.refresh_from_db()
    pdf = card_services.pin_mailer_open(mailer=card.mailers.get(kind="pin"))
    match = re.search(rb"PIN\\\) : (\d{4})", pdf)
    assert match is not None
    return card, match.group(1).decode()


def sign_on_card(card: Card, pin: str, challenge: str) -> str:
    """What the holder's card middleware does: log in with the PIN, sign with the authentication key."""
    made_by = PersonalizationJob.objects.select_related("station").get(card=card).station
    reader = tokens.Reader(made_by.module, made_by.softhsm_conf)
    token = tokens.find_token(reader, card.number)
    assert token is not None
    with token.open(user_pin=pin) as session:
        return base64.b64encode(tokens.sign(session, "auth", challenge.encode())).decode()


AGENT = Path(__file__).resolve().parents[2] / "bin" / "cpx-card"


def run_as_shown(card: Card, command: str, pin: str) -> str:
    """Run the command the page shows as the holder would, with the repository's card agent (the PIN typed
    into it); returns what it printed."""
    made_by = PersonalizationJob.objects.select_related("station").get(card=card).station
    program, *args = shlex.split(command)
    assert program == "cpx-card"
    env = {**os.environ, "SOFTHSM2_CONF": made_by.softhsm_conf, "CPX_CARD_MODULE": SOFTHSM}
    result = subprocess.run(
        [str(AGENT), *args], input=pin + "\n", env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def codes_from(mail_outbox: list[Any], sms_outbox: list[tuple[str, str]]) -> tuple[str, str]:
    email_code = re.findall(r"\b(\d{6})\b", mail_outbox[-1].body)[0]
    sms_code = re.findall(r"\b(\d{6})\b", sms_outbox[-1][1])[0]
    return email_code, sms_code


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_url(client_id: str, redirect_uri: str, challenge: str, *, state: str, nonce: str) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid profile",
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return "/o/authorize/?" + urlencode(query)


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
