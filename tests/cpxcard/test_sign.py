"""cpx-card sign, and the signature key's fresh PIN for each signature (CKA_ALWAYS_AUTHENTICATE, set by
stations.tokens.generate_keypair): proved on the module itself, through pkcs11-tool and bare PKCS#11."""

import base64
import json
import subprocess
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from pkcs11 import Attribute, KeyType, ObjectClass

from stations import tokens

from .conftest import REPO, SOFTHSM

CKR_USER_NOT_LOGGED_IN = 0x101


def _verify(certificate, signature: bytes, data: bytes) -> None:
    certificate.public_key().verify(signature, data, padding.PKCS1v15(), hashes.SHA256())


def _blocks(listing: str) -> list[str]:
    """pkcs11-tool's objects: a line at the margin, then its indented lines."""
    blocks: list[list[str]] = []
    for line in listing.splitlines():
        if line and not line.startswith(" "):
            blocks.append([])
        if blocks:
            blocks[-1].append(line)
    return ["\n".join(block) for block in blocks]


def test_sign_prints_a_signature_the_authentication_certificate_verifies(make_card, agent):
    card = make_card()
    challenge = f"cpx-card-activation|{card.number}|nonce-Zq81"
    result = agent("sign", challenge, codes=[card.pin])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    _verify(card.certificates["auth"], base64.b64decode(lines[0], validate=True), challenge.encode())


def test_sign_with_the_signature_key_logs_in_again_for_it(make_card, agent):
    card = make_card()
    result = agent("sign", "--key", "sign", "à signer", codes=[card.pin])
    assert result.returncode == 0, result.stderr
    _verify(card.certificates["sign"], base64.b64decode(result.stdout), "à signer".encode())


def test_an_activation_challenge_for_another_card_is_refused(make_card, agent):
    card = make_card()
    result = agent("sign", "cpx-card-activation|80250000010000000999|n", codes=[card.pin])
    assert result.returncode == 1 and "pour la carte 80250000010000000999" in result.stderr
    assert result.stdout == ""
    assert "PIN : 3 essais restants" in agent("show").stdout  # no PIN was tried


def test_the_signature_key_requires_a_fresh_pin_for_each_signature(make_card, store, monkeypatch):
    card = make_card()
    # SoftHSM2 re-initialized on this store in this process, to see the card made by another process
    # (monkeypatch puts SOFTHSM2_CONF back afterwards).
    monkeypatch.setenv("SOFTHSM2_CONF", str(store.conf))
    reader = tokens.Reader(SOFTHSM, str(store.conf))
    tokens.library(reader).reinitialize()
    token = tokens.find_token(reader, card.number)
    with token.open(user_pin=card.pin) as session:
        keys = {
            usage: session.get_key(ObjectClass.PRIVATE_KEY, KeyType.RSA, label=label)
            for usage, label in tokens.KEY_LABELS.items()
        }
        assert keys["sign"][Attribute.ALWAYS_AUTHENTICATE] is True
        assert keys["auth"][Attribute.ALWAYS_AUTHENTICATE] is False
        # stations.tokens.sign wants the PIN for that key, and signs with it
        signature = tokens.sign(session, "sign", b"data", pin=card.pin)
        _verify(card.certificates["sign"], signature, b"data")

    listing = subprocess.run(
        [
            "pkcs11-tool",
            "--module",
            SOFTHSM,
            "--token-label",
            card.number,
            "-O",
            "--login",
            "--pin",
            card.pin,
        ],
        env=store.env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    private = [block for block in _blocks(listing) if block.startswith("Private Key Object")]
    access = {label: block for block in private for label in tokens.KEY_LABELS.values() if label in block}
    assert len(private) == len(access) == 2, listing
    assert "always authenticate" in access["CPS_SIGN"], listing
    assert "always authenticate" not in access["CPS_AUTH"], listing

    bare = subprocess.run(
        [sys.executable, "-m", "tests.cpxcard.context_login", SOFTHSM, card.number],
        input=f"{card.pin}\n",
        env=store.env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bare.returncode == 0, bare.stderr
    calls = json.loads(bare.stdout)
    assert calls["sign_without"]["rv"] == CKR_USER_NOT_LOGGED_IN
    assert calls["sign_with"]["context_login"] == 0 and calls["sign_with"]["rv"] == 0
    _verify(
        card.certificates["sign"],
        base64.b64decode(calls["sign_with"]["signature"]),
        b"one PIN, one signature",
    )
    assert calls["sign_without_again"]["rv"] == CKR_USER_NOT_LOGGED_IN  # one login, one signature
    assert calls["auth_without"]["rv"] == 0  # the authentication key needs only the session's login
