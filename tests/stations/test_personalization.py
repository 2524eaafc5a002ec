"""The personalization job on SoftHSM2 tokens: from a queued order to a card, checked from outside."""

import os
import subprocess

import pytest
from cryptography import x509

from cards import services as card_services
from cards.models import Card, Mailer
from pki.models import Certificate
from stations import personalization, services, tokens
from stations.models import BlankCard, PersonalizationJob

from .conftest import SOFTHSM, card_login, pin_and_puk, token_labels

pytestmark = pytest.mark.django_db


def test_it_personalizes_a_queued_order(station, queued_order):
    card = personalization.personalize_order(order_id=queued_order.pk, station=station)
    queued_order.refresh_from_db()
    assert queued_order.state == "produced" and queued_order.produced_card_id == card.pk
    assert card.number.startswith("8025000001") and len(card.number) == 20
    assert card.professional_id == queued_order.professional_id and card.order.pk == queued_order.pk
    assert (card.valid_until - card.valid_from).days in (3 * 365 - 1, 3 * 365)
    assert BlankCard.objects.get(number=card.number).state == "used"
    assert PersonalizationJob.objects.get(order_id=queued_order.pk).step == "done"
    certs = {c.usage: c for c in card.certificates.all()}
    assert set(certs) == {"auth", "sign"}
    parsed = x509.load_der_x509_certificate(bytes(certs["auth"].der))
    assert (
        parsed.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value
        == card.professional.national_id
    )
    assert parsed.not_valid_after_utc.date() == card.valid_until
    assert token_labels(station) == [card.number]


def test_rerunning_the_job_makes_no_second_card(station, queued_order):
    first = personalization.personalize_order(order_id=queued_order.pk, station=station)
    again = personalization.personalize_order(order_id=queued_order.pk, station=station)
    assert again.pk == first.pk
    assert Card.objects.filter(order=queued_order.pk).count() == 1
    assert BlankCard.objects.filter(state="available").count() == 3


def test_pkcs11_tool_sees_two_unextractable_keys_two_certificates_and_the_data(station, queued_order):
    card = personalization.personalize_order(order_id=queued_order.pk, station=station)
    pin, _ = pin_and_puk(card)
    out = _pkcs11_tool(station, card.number, pin)
    blocks = _blocks(out)
    private = [b for b in blocks if b.startswith("Private Key Object")]
    assert len(private) == 2, out
    for block in private:
        assert "RSA" in block
        assert "never extractable" in block and "sensitive" in block, block
    assert len([b for b in blocks if b.startswith("Certificate Object")]) == 2, out
    data = [b for b in blocks if b.startswith("Data object")]
    assert len(data) == 2 and "CPS_HOLDER" in data[0] + data[1] and "CPX_UNBLOCK" in data[0] + data[1], out


def _pkcs11_tool(station, label, pin):
    # SoftHSM2 numbers an initialized token's slot from its serial: the label names it in any process.
    result = subprocess.run(
        [
            "pkcs11-tool",
            "--module",
            SOFTHSM,
            "--token-label",
            label,
            "--list-objects",
            "--login",
            "--pin",
            pin,
        ],
        env={**os.environ, "SOFTHSM2_CONF": station.softhsm_conf},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def _blocks(out):
    blocks, current = [], []
    for line in out.splitlines():
        if line and not line.startswith(" ") and current:
            blocks.append("\n".join(current))
            current = []
        if line:
            current.append(line)
    return [*blocks, "\n".join(current)] if current else blocks


def test_the_card_holds_the_holder_data_signed_by_its_ca(station, queued_order, tmp_path):
    """The data object is a CMS SignedData by the issuing CA: openssl verifies it with the published CA
    certificates and prints the holder data (docs/card_data.md); a changed byte fails."""
    import json

    from pki import signing

    card = personalization.personalize_order(order_id=queued_order.pk, station=station)
    pin, _ = pin_and_puk(card)
    token = tokens.find_token(tokens.Reader(station.module, station.softhsm_conf), card.number)
    with token.open(user_pin=pin) as session:
        obj = next(session.get_objects({tokens.Attribute.LABEL: tokens.DATA_LABEL}))
        signed = bytes(obj[tokens.Attribute.VALUE])
    chain = tmp_path / "chain.pem"
    chain.write_bytes(signing.chain_pem())
    (tmp_path / "data.p7").write_bytes(signed)
    verify = ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / "data.p7")]
    result = subprocess.run(
        [*verify, "-CAfile", str(chain), "-purpose", "any"], capture_output=True, timeout=30
    )
    assert result.returncode == 0, result.stderr.decode()
    data = json.loads(result.stdout)
    assert data["v"] == 1
    (tmp_path / "data.p7").write_bytes(signed.replace(card.number.encode(), b"80250000019999999999"))
    assert subprocess.run([*verify, "-CAfile", str(chain), "-purpose", "any"], capture_output=True).returncode
    assert data["card_number"] == card.number
    assert data["holder"]["national_id"] == card.professional.national_id
    assert len(data["situations"]) == 2


def test_the_card_takes_its_pin_and_no_other_and_the_platform_counts_nothing(station, queued_order):
    """The PIN is the card's business: checked by a login on the card (the holder's agent counts the tries
    of a SoftHSM2 card), never by the platform, which keeps no PIN counter."""
    card = personalization.personalize_order(order_id=queued_order.pk, station=station)
    pin, _ = pin_and_puk(card)
    wrong = "0000" if pin != "0000" else "1111"
    assert card_login(station, card, pin)
    assert not card_login(station, card, wrong)
    assert card_login(station, card, pin)
    assert not {"pin_failures", "pin_blocked_at"} & {field.name for field in Card._meta.get_fields()}
    assert not card.events.filter(kind__startswith="pin_").exclude(kind__startswith="pin_mailer").exists()


def test_the_pin_mailer_is_sealed_until_printed_then_purged(station, queued_order):
    card = personalization.personalize_order(order_id=queued_order.pk, station=station)
    mailer = card.mailers.get(kind=Mailer.Kind.PIN)
    assert not bytes(mailer.content).startswith(b"%PDF")
    assert card_services.pin_mailer_open(mailer=mailer).startswith(b"%PDF")
    assert bytes(card.mailers.get(kind=Mailer.Kind.CARRIER).content).startswith(b"%PDF")
    card_services.mailer_mark_printed(mailer=mailer)
    mailer.refresh_from_db()
    assert mailer.printed_at is not None and mailer.content is None
    with pytest.raises(ValueError):
        card_services.pin_mailer_open(mailer=mailer)


def test_a_failing_card_spoils_the_blank_revokes_and_requeues(station, queued_order, monkeypatch, scheduled):
    real_sign = tokens.sign

    def broken(session, usage, challenge, **options):
        """The chip signs the proofs of possession, then fails the check after certification."""
        if challenge.startswith(b"cpx-card-key-proof/"):
            return real_sign(session, usage, challenge, **options)
        raise tokens.TokenError("the chip did not answer")

    monkeypatch.setattr(tokens, "sign", broken)
    assert personalization.personalize_order(order_id=queued_order.pk, station=station) is None
    job = PersonalizationJob.objects.get(order_id=queued_order.pk)
    assert job.step == "failed" and "did not answer" in job.error
    assert BlankCard.objects.get(pk=job.blank_id).state == BlankCard.State.SPOILED
    assert not Card.objects.filter(order=queued_order.pk).exists()
    revoked = Certificate.objects.filter(card_number=job.blank.number)
    assert revoked.count() == 2 and all(c.revoked_at for c in revoked)
    assert token_labels(station) == []
    queued_order.refresh_from_db()
    assert queued_order.state == "queued" and queued_order.failure_count == 1

    monkeypatch.undo()
    card = personalization.personalize_order(order_id=queued_order.pk, station=station)
    assert card is not None and card.number != job.blank.number


def test_without_blanks_the_order_stays_queued(station, queued_order):
    BlankCard.objects.update(state="used")
    with pytest.raises(personalization.NoBlankCard):
        personalization.personalize_order(order_id=queued_order.pk, station=station)
    queued_order.refresh_from_db()
    assert queued_order.state == "queued"


def test_production_schedule_sends_to_the_station_queue(station, queued_order, scheduled):
    services.production_schedule(order_id=queued_order.pk)
    assert scheduled == [("stations.personalize", (queued_order.pk, station.name), {"queue": station.queue})]


def test_holder_data_carries_at_most_sixteen_situations(queued_order):
    import datetime as dt
    import json

    from tests.factories import ActivityFactory

    for n in range(20):
        ActivityFactory(exercise=queued_order.exercise, activity_key=f"L|extra{n}")
    request = personalization._request(queued_order.pk)
    today = dt.date.today()
    data = json.loads(personalization.holder_data(request, "80250000010000000042", today, today))
    assert len(data["situations"]) == 16
    assert data["profession"]["code"] == "10" and data["issuer"] == "8025000001"
    assert data["holder"]["last_name"] == queued_order.professional.last_name


def test_no_object_of_a_personalized_card_can_be_deleted_or_changed(station, queued_order):
    """pkcs11-tool, without the PIN and with it: every certificate, key and the holder data stay."""
    card = personalization.personalize_order(order_id=queued_order.pk, station=station)
    pin, _ = pin_and_puk(card)
    env = {**os.environ, "SOFTHSM2_CONF": station.softhsm_conf}
    base = ["pkcs11-tool", "--module", SOFTHSM, "--token-label", card.number]
    targets = [
        ["--type", "cert", "--id", "01"],
        ["--type", "cert", "--id", "02"],
        ["--type", "data", "--label", tokens.DATA_LABEL],
        ["--type", "data", "--label", tokens.UNBLOCK_LABEL],
        ["--type", "pubkey", "--id", "01"],
        ["--type", "privkey", "--id", "02"],
    ]
    for login in ([], ["--login", "--pin", pin]):
        for target in targets:
            if "privkey" in target and not login:
                continue  # a private key is not even visible without the PIN
            result = subprocess.run(
                [*base, *login, "--delete-object", *target],
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert result.returncode != 0, (login, target, result.stdout)
            assert "C_DestroyObject() failed" in result.stderr, (login, target, result.stderr)
    blocks = _blocks(_pkcs11_tool(station, card.number, pin))
    assert len([b for b in blocks if b.startswith("Certificate Object")]) == 2
    assert len([b for b in blocks if b.startswith("Private Key Object")]) == 2
    assert len([b for b in blocks if b.startswith("Data object")]) == 2  # CPS_HOLDER and CPX_UNBLOCK
    token = tokens.find_token(tokens.Reader(station.module, station.softhsm_conf), card.number)
    with token.open(rw=True, user_pin=pin) as session:
        obj = next(session.get_objects({tokens.Attribute.LABEL: tokens.DATA_LABEL}))
        assert not obj[tokens.Attribute.MODIFIABLE] and not obj[tokens.Attribute.DESTROYABLE]
        with pytest.raises(tokens.pkcs11.exceptions.PKCS11Error):
            obj[tokens.Attribute.VALUE] = b'{"holder": "someone else"}'
