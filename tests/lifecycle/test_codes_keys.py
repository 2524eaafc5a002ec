"""The unblock token's keys (pki.unblock): the PUK derived on the token, never extractable; the help-desk
challenge-response computed as the brief says, checked here with an independent client."""

import base64
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pkcs11 import Attribute, ObjectClass
from pkcs11.exceptions import PKCS11Error

from pki import hsm, unblock
from tests.pki.conftest import ca_keys, pki_dir  # noqa: F401 (fixtures)
from tests.test_settings import ROOT, production_environment

NUMBER = "80250000010000000042"


@pytest.fixture
def unblock_token(pki_dir):  # noqa: F811 (the fixture imported above)
    unblock.ensure_keys()
    return hsm.token("unblock")


def agent_challenge():
    """What the agent does: an ephemeral P-256 key, its compressed point in base32, in groups of 4."""
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    text = base64.b32encode(point).decode().rstrip("=")
    return key, "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def agent_puk(key, response: str, number: str, version: int = 1) -> str:
    """The agent's end: S from e and the card's CPX_UNBLOCK key, PUK = (response - K) mod 10^8."""
    public = serialization.load_der_public_key(unblock.helpdesk_public_key(version))
    secret = key.exchange(ec.ECDH(), public)
    return f"{(int(response) - unblock.response_offset(secret, number)) % 10**8:08d}"


def test_the_puk_is_eight_digits_from_the_card_number_and_the_key_version(unblock_token):
    puk = unblock.puk_for(NUMBER, 1)
    assert len(puk) == 8 and puk.isdigit()
    assert unblock.puk_for(NUMBER, 1) == puk  # derived again: the same
    assert unblock.puk_for("80250000010000000043", 1) != puk
    unblock.ensure_keys(2)
    assert unblock.puk_for(NUMBER, 2) != puk
    puks = {unblock.puk_for(f"8025000001{n:010d}", 1) for n in range(200)}
    assert len(puks) == 200 and all(len(p) == 8 and p.isdigit() for p in puks)


def test_the_puk_is_the_hmac_reduction_the_brief_names():
    """First 8 bytes of the HMAC, big-endian, mod 10^8, zero-padded (the key itself never leaves the token:
    the reduction and the message are checked here)."""
    assert unblock.puk_message(NUMBER, 3) == b"cpx-puk|80250000010000000042|v3"
    assert unblock.puk_from_mac(bytes(8) + b"\xff" * 24) == "00000000"
    assert unblock.puk_from_mac((123).to_bytes(8, "big") + bytes(24)) == "00000123"
    assert unblock.puk_from_mac(b"\xff" * 8) == f"{(2**64 - 1) % 10**8:08d}"


def test_the_master_key_is_sensitive_never_extractable_and_only_signs(unblock_token):
    with hsm.session(unblock_token) as session:
        key = session.get_key(object_class=ObjectClass.SECRET_KEY, label=unblock.master_label(1))
        assert key[Attribute.SENSITIVE] and key[Attribute.ALWAYS_SENSITIVE]
        assert not key[Attribute.EXTRACTABLE] and key[Attribute.NEVER_EXTRACTABLE]
        assert key[Attribute.SIGN] and not key[Attribute.ENCRYPT] and not key[Attribute.DERIVE]
        assert not key[Attribute.WRAP] and not key[Attribute.DECRYPT]
        with pytest.raises(PKCS11Error):
            key[Attribute.VALUE]
        private = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=unblock.helpdesk_label(1))
        assert (
            private[Attribute.DERIVE] and not private[Attribute.SIGN] and not private[Attribute.EXTRACTABLE]
        )
        with pytest.raises(PKCS11Error):
            private[Attribute.VALUE]


def test_making_the_keys_again_changes_nothing(unblock_token):
    before = (unblock.puk_for(NUMBER, 1), unblock.helpdesk_public_key(1))
    assert unblock.ensure_keys(1) is False
    assert (unblock.puk_for(NUMBER, 1), unblock.helpdesk_public_key(1)) == before


def test_the_help_desk_key_is_a_p256_subject_public_key_info(unblock_token):
    public = serialization.load_der_public_key(unblock.helpdesk_public_key(1))
    assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1"


def test_the_response_gives_the_agent_the_puk_for_that_card_and_challenge_only(unblock_token):
    key, challenge = agent_challenge()
    response = unblock.helpdesk_response(NUMBER, 1, challenge)
    assert len(response) == 8 and response.isdigit()
    assert agent_puk(key, response, NUMBER) == unblock.puk_for(NUMBER, 1)
    other_number = "80250000010000000043"
    assert agent_puk(key, unblock.helpdesk_response(other_number, 1, challenge), NUMBER) != unblock.puk_for(
        NUMBER, 1
    )
    other_key, other_challenge = agent_challenge()
    assert agent_puk(other_key, response, NUMBER) != unblock.puk_for(NUMBER, 1)
    assert unblock.helpdesk_response(NUMBER, 1, other_challenge) != response
    assert unblock.display_response("12345678") == "1234 5678"


@pytest.mark.parametrize(
    "spelling",
    [lambda c: c, lambda c: c.replace("-", ""), lambda c: c.lower(), lambda c: c.replace("-", " ")],
)
def test_the_challenge_is_accepted_with_or_without_dashes_spaces_in_any_case(unblock_token, spelling):
    key, challenge = agent_challenge()
    response = unblock.helpdesk_response(NUMBER, 1, spelling(challenge))
    assert agent_puk(key, response, NUMBER) == unblock.puk_for(NUMBER, 1)
    assert unblock.normalize_challenge(spelling(challenge)) == challenge.replace("-", "")


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=")


def _off_curve_point() -> bytes:
    """A compressed point whose x has no y on P-256 (about half of all x do not)."""
    for x in range(1, 100):
        raw = b"\x02" + x.to_bytes(32, "big")
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        except ValueError:
            return raw
    raise AssertionError("no x off the curve found")


@pytest.mark.parametrize(
    "challenge",
    [
        "",
        "AAAA",
        "not base32 at all!",
        "1" * 53,  # not in the alphabet
        _b32(b"\x02" + bytes(31)),  # 32 bytes
        _b32(b"\x04" + bytes(32)),  # not a compressed point
        _b32(_off_curve_point()),
        _b32(b"\x02" + bytes(32)) + "AAAAAAAAAAAAAAAA",  # too long
    ],
)
def test_a_challenge_that_is_not_a_p256_point_is_refused(challenge):
    with pytest.raises(unblock.BadChallenge) as refused:
        unblock.normalize_challenge(challenge)
    assert refused.value.code == "bad_challenge" and refused.value.status == 400


def test_without_the_pin_the_unblock_token_does_not_open(pki_dir, settings):  # noqa: F811
    unblock.ensure_keys()
    settings.CPX_UNBLOCK_TOKEN_PIN = ""
    with pytest.raises(hsm.TokenUnavailable, match="CPX_UNBLOCK_TOKEN_PIN"):
        unblock.puk_for(NUMBER, 1)


def test_check_deploy_refuses_the_development_unblock_pin(tmp_path):
    env = production_environment(tmp_path)
    env.pop("CPX_UNBLOCK_TOKEN_PIN", None)  # unset: the public development PIN applies
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "pki.E001" in result.stderr and "CPX_UNBLOCK_TOKEN_PIN" in result.stderr
