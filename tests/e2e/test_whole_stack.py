"""The whole platform as its users see it: the real processes of deploy/Procfile (gunicorn, Celery worker,
beat, the signing service, a reader station with two SoftHSM2 readers) on the real PostgreSQL and Redis,
driven over HTTP only.

Set-up (PKI, station, accounts) is done as an operator would on the host, with management commands in
subprocesses; every action after that is an HTTP request, or the holder's own: the codes letter the post
brings (read on the host) and the card agent run against the card. The test never reads or writes the database
itself: what it checks, it checks through the API, the CRL, the OCSP responder and the card.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.processes import (
    Api,
    api_account,
    free_port,
    http_status,
    manage,
    processes,
    procfile,
    stack_environment,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BROKER = "redis://127.0.0.1:6379/12"  # a Redis database number of this test's own
STATION = "e2e"
SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"


def _flush_broker() -> None:
    subprocess.run(["redis-cli", "-n", BROKER.rsplit("/", 1)[1], "FLUSHDB"], check=True, capture_output=True)


class Stack:
    """The running platform and what the test learnt about it."""

    def __init__(self, tmp_path: Path, port: int, env: dict[str, str], running: dict):
        self.tmp = tmp_path
        self.url = f"http://127.0.0.1:{port}"
        self.env = env
        self.running = running

    def api(self, token: str | None = None) -> Api:
        return Api(self.url, token)

    def logs(self) -> str:
        return "\n".join(f"--- {n}\n{p.output()[-3000:]}" for n, p in self.running.items())


# Which token PINs each process gets (the operator's set-up commands above have them all): the signing
# service alone has the CA token's; the OCSP token's goes to the web (the responder) and the signer only;
# nothing running has the root's.
NO_CA = {"CPX_CA_TOKEN_PIN": "", "CPX_ROOT_TOKEN_PIN": ""}
PROCESS_PINS = {
    "signer": {"CPX_ROOT_TOKEN_PIN": ""},
    "web": NO_CA,
    "worker": {**NO_CA, "CPX_OCSP_TOKEN_PIN": ""},
    "beat": {**NO_CA, "CPX_OCSP_TOKEN_PIN": ""},
    "station": {**NO_CA, "CPX_OCSP_TOKEN_PIN": ""},
}

TARIFF_SCRIPT = (
    "import datetime; from orders.models import Tariff; "
    "Tariff.objects.get_or_create(valid_from=datetime.date(2025, 1, 1), defaults={'amount': '36.00'})"
)


@pytest.fixture
def stack(tmp_path):
    _flush_broker()
    port = free_port()
    env = stack_environment(
        tmp_path,
        BROKER,
        CPX_WEB_BIND=f"127.0.0.1:{port}",
        CPX_WEB_WORKERS="2",
        CPX_WORKER_CONCURRENCY="2",
        CPX_STATION_NAME=STATION,
        CPX_BASE_URL=f"http://127.0.0.1:{port}",
    )
    manage(env, "pki_init")
    # The 2025 tariff comes from a data migration; a transactional test before this one flushed it.
    manage(env, "shell", "--no-imports", "-c", TARIFF_SCRIPT)
    manage(env, "station_register", STATION, "--readers", "2", "--blanks", "6", "--module", SOFTHSM)
    specs = {
        name: cmd
        for name, cmd in procfile().items()
        if name in {"web", "worker", "beat", "signer", "station"}
    }
    with processes(specs, env, tmp_path, PROCESS_PINS) as running:
        stack = Stack(tmp_path, port, env, running)
        wait_for(lambda: http_status(f"{stack.url}/healthz") == 200, 60, "gunicorn to answer")
        wait_for(lambda: "ready" in running["signer"].output(), 60, "the signing service")
        wait_for(lambda: "ready" in running["station"].output(), 60, "the station worker")
        yield stack
        assert all(p.alive() for p in running.values()), stack.logs()
    _flush_broker()


def poll(stack: Stack, what: str, fetch, ready, timeout: float = 90):
    def attempt():
        value = fetch()
        return value if ready(value) else None

    try:
        return wait_for(attempt, timeout, what, interval=0.5)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nlast: {fetch()!r}\n{stack.logs()}") from None


def produced_card(stack: Stack, api: Api, order_id: int) -> dict:
    order = poll(
        stack,
        f"order {order_id} to be produced",
        lambda: api.get(f"/api/v1/orders/{order_id}/"),
        lambda o: o["state"] == "produced" and o["produced_card"],
    )
    return api.get(f"/api/v1/cards/{order['produced_card']}/")


# The codes letter the holder receives by post: its PIN, read on the host as the print run opens it.
PIN_SCRIPT = r"""import re; from cards.models import Mailer; from cards.services import pin_mailer_open
pdf = pin_mailer_open(mailer=Mailer.objects.get(card__number="NUMBER", kind="pin"))
print(re.search(rb"PIN\\\) : (\d{4})", pdf).group(1).decode())"""
AGENT = Path(__file__).resolve().parents[2] / "bin" / "cpx-card"


def ship_and_activate(stack: Stack, ans: Api, holder: Api, card: dict, reference: str) -> dict:
    """Shipped by ANS; the holder gets a challenge, runs the command shown with the card agent (the PIN typed
    into it, on the holder's side) and sends what it printed."""
    batch = {
        "carrier": "La Poste",
        "reference": reference,
        "cards": [{"card": card["id"], "tracking_reference": f"{reference}-1"}],
    }
    ans.post("/api/v1/shipping-batches/", batch, expect=201)
    given = holder.post(f"/api/v1/cards/{card['id']}/activation/challenge/", expect=201)
    pin = manage(
        stack.env, "shell", "--no-imports", "-c", PIN_SCRIPT.replace("NUMBER", card["number"])
    ).strip()
    program, *args = shlex.split(given["command"])
    conf = stack.tmp / "stations" / STATION / "softhsm2.conf"
    env = {"SOFTHSM2_CONF": str(conf), "CPX_CARD_MODULE": SOFTHSM, "PATH": "/usr/bin:/bin"}
    signed = subprocess.run(
        [str(AGENT), *args], input=f"{pin}\n", env=env, capture_output=True, text=True, timeout=60
    )
    assert program == "cpx-card" and signed.returncode == 0, signed.stderr
    proof = {"challenge": given["challenge"], "signature": signed.stdout}
    activated = holder.post(f"/api/v1/cards/{card['id']}/activation/", proof)
    assert activated["state"] == "active"
    return holder.get(f"/api/v1/cards/{card['id']}/")


# --- PKI checks as a relying party makes them ------------------------------------------------------------


def card_certificate(stack: Stack, number: str, out: Path) -> Path:
    """Read the authentication certificate from the card itself (the station's SoftHSM2 token)."""
    env = {"SOFTHSM2_CONF": str(stack.tmp / "stations" / STATION / "softhsm2.conf"), "PATH": "/usr/bin:/bin"}
    der = out.with_suffix(".der")
    subprocess.run(
        ["pkcs11-tool", "--module", SOFTHSM, "--token-label", number, "--read-object", "--type", "cert"]
        + ["--label", "CPS_AUTH", "--output-file", str(der)],
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(["openssl", "x509", "-inform", "DER", "-in", str(der), "-out", str(out)], check=True)
    return out


CHAIN_SCRIPT = "from pki.signing import chain_pem; print(chain_pem().decode())"


def trust_anchors(stack: Stack, card_pem: Path) -> tuple[Path, Path]:
    """The CA chain, as distributed to relying parties out of band (here: printed by the platform's host)."""
    chain = stack.tmp / "chain.pem"
    chain.write_text(manage(stack.env, "shell", "--no-imports", "-c", CHAIN_SCRIPT))
    issuer_name = x509.load_pem_x509_certificate(card_pem.read_bytes()).issuer
    issuer = next(c for c in x509.load_pem_x509_certificates(chain.read_bytes()) if c.subject == issuer_name)
    issuer_path = stack.tmp / "issuer.pem"
    issuer_path.write_bytes(issuer.public_bytes(serialization.Encoding.PEM))
    return chain, issuer_path


def _fetch_crl(stack: Stack, name: str, out: Path) -> Path | None:
    """A published CRL as PEM (None when the platform has none yet: a CA's first delta comes with its first
    revocation)."""
    try:
        with urllib.request.urlopen(f"{stack.url}/pki/crl/{name}", timeout=10) as response:  # noqa: S310
            der = response.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise
    subprocess.run(["openssl", "crl", "-inform", "DER", "-out", str(out)], input=der, check=True)
    return out


def crl_verify(stack: Stack, chain: Path, cert: Path) -> str:
    """openssl's verdict with the base and the delta CRL (RFC 5280 §5.2.4), as a relying party gets them."""
    crls = [_fetch_crl(stack, "personnes.crl", stack.tmp / "crl.pem")]
    crls.append(_fetch_crl(stack, "personnes-delta.crl", stack.tmp / "delta-crl.pem"))
    options = [arg for crl in crls if crl is not None for arg in ("-CRLfile", str(crl))]
    result = subprocess.run(
        ["openssl", "verify", "-crl_check", "-use_deltas", "-CAfile", str(chain), *options, str(cert)],
        capture_output=True,
        text=True,
    )
    return result.stdout + result.stderr


def crl_revoked(stack: Stack, chain: Path, cert: Path, timeout: float = 5) -> str:
    """The CRLs show the revocation: the delta CRL follows the opposition within the second (signed by the
    signing service); a few seconds are allowed for a loaded machine."""
    deadline = time.monotonic() + timeout
    while True:
        verdict = crl_verify(stack, chain, cert)
        if "certificate revoked" in verdict or time.monotonic() > deadline:
            return verdict
        time.sleep(0.1)


def ocsp_status(stack: Stack, chain: Path, issuer: Path, cert: Path) -> str:
    result = subprocess.run(
        ["openssl", "ocsp", "-issuer", str(issuer), "-cert", str(cert), "-CAfile", str(chain)]
        + ["-url", f"{stack.url}/pki/ocsp"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result.stdout + result.stderr


# --- the journey ---------------------------------------------------------------------------------------


def import_registry(stack: Stack, ans: Api) -> dict:
    sample = stack.tmp / "PS_LibreAcces_Personne_activite_e2e.txt"
    manage(stack.env, "make_registry_sample", "--rows", "300", "--out", str(sample), "--seed", "12")
    started = ans.upload("/api/v1/registry/imports/", sample)
    assert started["status"] == "running"
    done = poll(
        stack,
        "the registry import",
        lambda: ans.get(f"/api/v1/registry/imports/{started['id']}/"),
        lambda i: i["status"] != "running",
    )
    assert done["status"] == "done" and done["imported"] > 0, done
    assert done["imported"] + done["updated"] + done["unchanged"] + done["rejected"] == done["rows_read"]
    if done["rejected"]:
        _status, report, headers = ans.request("GET", done["reject_report_url"])
        assert headers["content-type"] == "text/csv" and report.count(b"\n") == done["rejected"] + 1
    return done


def why_no_replacement(card_id: int) -> object:
    """Diagnostics only (read from the database): what the card's history says about its replacement."""
    from cards.models import CardEvent

    return list(CardEvent.objects.filter(card_id=card_id).values_list("kind", "detail"))


def ans_reviewed_person(ans: Api) -> tuple[dict, dict]:
    """A person of the imported registry whose orders ANS reviews (an ADELI profession)."""
    page = ans.get("/api/v1/persons/?limit=500")
    for person in page["results"]:
        for exercise in person["exercises"]:
            if person["is_active"] and exercise["is_active"] and exercise["authority"] == "ANS":
                return person, exercise
    raise AssertionError("the sample registry has no ADELI professional")


SCAN_SCRIPT = (
    "import datetime; from lifecycle.renewal import renewal_reminders_send; "
    "print(renewal_reminders_send(today=datetime.date.fromisoformat('{as_of}')))"
)


def test_a_card_from_registry_import_to_renewal_reminder_over_http(stack):
    ans = stack.api(api_account(stack.env, "e2e.ans", "ans_operator", authority="ANS"))
    assert stack.api().get("/api/v1/orders/", expect=401)["code"] == "not_authenticated"

    # 1. ANS imports the registry file; the holder's account is opened for a person it lists.
    import_registry(stack, ans)
    person, exercise = ans_reviewed_person(ans)
    holder = stack.api(api_account(stack.env, "e2e.holder", "holder", professional_id=person["id"]))

    # 2. The holder orders a first card; ANS approves; the station personalizes it.
    order = holder.post(
        "/api/v1/orders/",
        {"professional": person["id"], "exercise": exercise["id"], "card_type": "CPS", "kind": "first"},
        expect=201,
    )
    holder.post(f"/api/v1/orders/{order['id']}/submit/")
    approved = ans.post(f"/api/v1/orders/{order['id']}/approve/", {"reason": "e2e"})
    assert approved["state"] in {"queued", "in_production", "produced"}, approved
    card = produced_card(stack, holder, order["id"])
    assert card["state"] == "personalized" and len(card["certificates"]) == 2
    assert card["national_id"] == person["national_id"]

    # 3. Shipped by ANS, activated by the holder.
    card = ship_and_activate(stack, ans, holder, card, "E2E-BATCH-1")
    assert card["state"] == "active"

    # The card's certificate, read from the card, is good for the CRL and for OCSP.
    cert = card_certificate(stack, card["number"], stack.tmp / "card1.pem")
    chain, issuer = trust_anchors(stack, cert)
    assert ": OK" in crl_verify(stack, chain, cert)
    assert f"{cert}: good" in ocsp_status(stack, chain, issuer, cert)

    # 4. Declared stolen: blocked at once, revoked in the CRL and by OCSP, a paid replacement ordered.
    opposition = holder.post(f"/api/v1/cards/{card['id']}/opposition/", {"reason": "stolen"}, expect=201)
    assert opposition["card_state"] == "opposed" and opposition["revoked_certificates"] == 2
    assert "certificate revoked" in crl_revoked(stack, chain, cert)
    answer = ocsp_status(stack, chain, issuer, cert)
    assert "Response verify OK" in answer and f"{cert}: revoked" in answer and "keyCompromise" in answer, (
        answer
    )

    replacement_id = opposition["replacement_order_id"]
    assert replacement_id is not None, why_no_replacement(card["id"])
    replacement = ans.post(f"/api/v1/orders/{replacement_id}/approve/", {})
    assert replacement["state"] == "awaiting_payment" and replacement["fee"] == "36.00", replacement
    unpaid, _body, _headers = ans.request(  # nothing paid yet: no invoice (asked as the PDF it would be)
        "GET", f"/api/v1/orders/{replacement_id}/invoice/", headers={"Accept": "application/pdf"}
    )
    assert unpaid == 404
    payment = ans.post(
        f"/api/v1/orders/{replacement_id}/record_payment/",
        {"amount": "36.00", "method": "transfer", "reference": "VIR-E2E-1"},
        expect=201,
    )
    assert payment["invoice_number"]
    status, invoice, headers = holder.request(
        "GET", f"/api/v1/orders/{replacement_id}/invoice/", headers={"Accept": "application/pdf"}
    )
    assert status == 200 and invoice.startswith(b"%PDF"), (status, invoice[:200])

    # 5. The new card is made, shipped and activated; the stolen one stays opposed.
    new_card = produced_card(stack, holder, replacement_id)
    assert new_card["id"] != card["id"] and new_card["number"] != card["number"]
    new_card = ship_and_activate(stack, ans, holder, new_card, "E2E-BATCH-2")
    assert holder.get(f"/api/v1/cards/{card['id']}/")["state"] == "opposed"
    new_cert = card_certificate(stack, new_card["number"], stack.tmp / "card2.pem")
    assert ": OK" in crl_verify(stack, chain, new_cert)
    assert f"{new_cert}: good" in ocsp_status(stack, chain, issuer, new_cert)
    live = [c for c in holder.get("/api/v1/cards/")["results"] if c["state"] in {"active", "shipped"}]
    assert [c["id"] for c in live] == [new_card["id"]]

    # 6. The clock moves to 90 days before expiry: the daily scan reminds the holder, once. The renewal
    # scan has no as-of option (command or task argument): its service's `today` is called from a shell.
    as_of = dt.date.fromisoformat(new_card["valid_until"]) - dt.timedelta(days=90)
    scan = SCAN_SCRIPT.format(as_of=as_of.isoformat())
    assert manage(stack.env, "shell", "--no-imports", "-c", scan).strip() == "{90: 1, 30: 0}"
    assert manage(stack.env, "shell", "--no-imports", "-c", scan).strip() == "{90: 0, 30: 0}"

    def reminders():
        messages = holder.get("/api/v1/messages/?limit=100")["results"]
        return [m for m in messages if m["event"] == "renewal_due"]

    reminder = poll(stack, "the renewal reminder in the holder's inbox", reminders, lambda r: len(r) == 1)[0]
    assert new_card["display_number"] in reminder["body"] or new_card["number"] in reminder["body"]
    # Renewal is automatic by default (issue 16): the reminder links to the renewal already ordered, and
    # carries the decline link, its one-time token in the fragment (never sent in a GET); the page POSTs it.
    ordered = re.search(r"/orders/(\d+)/", reminder["body"])
    assert ordered, reminder["body"]
    renewal = holder.get(f"/api/v1/orders/{ordered.group(1)}/")
    assert renewal["kind"] == "renewal" and renewal["state"] == "approved", renewal
    assert re.search(r"/renew/decline/#[^\s]+", reminder["body"]), reminder["body"]

    # Every message of the journey was delivered: none left pending or failed.
    events = {m["event"] for m in holder.get("/api/v1/messages/?limit=100")["results"]}
    assert {"card_shipped", "opposition_confirmed", "replacement_ordered", "renewal_due"} <= events, events
