"""The card through PKCS#11: the module, the card in the reader, its objects, and the codes' operations.

python-pkcs11 does the PKCS#11 calls. It leaves open the session of a failed C_Login, and a security
officer's login is refused while a read-only session is open (CKR_SESSION_READ_ONLY_EXISTS): after a failed
login the card's sessions are closed with C_CloseAllSessions through ctypes on the *same* loaded library
(dlopen returns the same handle, so the module's state, initialized by python-pkcs11, is shared), as
stations/tokens.py does.

Every code is counted: by the chip on a real card (OpenSC's module: the token's CKF_USER_PIN_* and
CKF_SO_PIN_* flags tell its state), by the agent's simulated chip on a SoftHSM2 token (cpxcard.simulated).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pkcs11 import KDF, Attribute, KeyType, Mechanism, ObjectClass, TokenFlag
from pkcs11.exceptions import NoSuchKey, PinIncorrect, PinLocked, PKCS11Error
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

from .codes import CardError, Status, blocked, wrong_code
from .simulated import SimulatedCounter

DEFAULT_MODULE = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"  # OpenSC's module (Debian, Ubuntu)
KEYS = {"auth": (b"\x01", "CPS_AUTH"), "sign": (b"\x02", "CPS_SIGN")}
USAGES = {key_id: usage for usage, (key_id, _label) in KEYS.items()}
HOLDER_LABEL = "CPS_HOLDER"
UNBLOCK_LABEL = "CPX_UNBLOCK"
# The help-desk challenge kept on the card between `helpdesk --challenge` and `helpdesk --response`: an
# ephemeral EC key generated on the card, readable by no one, destroyed by the first response.
CHALLENGE_LABEL = "CPX_HELPDESK_CHALLENGE"
CLASS_NAMES = {
    ObjectClass.CERTIFICATE: "certificat",
    ObjectClass.PUBLIC_KEY: "clé publique",
    ObjectClass.PRIVATE_KEY: "clé privée",
    ObjectClass.SECRET_KEY: "clé secrète",
    ObjectClass.DATA: "données",
}


class Counter(Protocol):
    simulated: bool

    def status(self) -> Status: ...

    def attempt(self, code: str) -> contextlib.AbstractContextManager[Any]: ...


class ChipCounter:
    """A real card's counters, as its module reports them in the token flags."""

    simulated = False

    def __init__(self, slot: pkcs11.Slot) -> None:
        self.slot = slot

    def status(self) -> Status:
        flags = self.slot.get_token().flags
        return Status(
            pin_left=1 if flags & TokenFlag.USER_PIN_FINAL_TRY else None,
            puk_left=1 if flags & TokenFlag.SO_PIN_FINAL_TRY else None,
            pin_blocked=bool(flags & TokenFlag.USER_PIN_LOCKED),
            dead=bool(flags & TokenFlag.SO_PIN_LOCKED),
            pin_low=bool(flags & TokenFlag.USER_PIN_COUNT_LOW),
        )

    @contextlib.contextmanager
    def attempt(self, code: str) -> Iterator[ChipAttempt]:
        self.status().refuse(code)
        yield ChipAttempt(self, code)


class ChipAttempt:
    def __init__(self, counter: ChipCounter, code: str) -> None:
        self.counter, self.code = counter, code

    def wrong(self, *, what: str = "") -> None:
        raise wrong_code(self.code, self.counter.status(), what=what)

    def right(self) -> None:
        """The chip resets its own counter."""

    def pin_reset(self) -> None:
        """The chip unblocks the PIN itself on C_InitPIN."""


@dataclass
class CardObject:
    """An object of the card as ``show`` lists it."""

    kind: str
    label: str
    key_id: bytes
    modifiable: bool | None
    destroyable: bool | None
    flags: list[str] = field(default_factory=list)

    @property
    def write_protected(self) -> bool:
        return self.modifiable is False and self.destroyable is False


class Module:
    """The loaded PKCS#11 module (OpenSC's for real readers, SoftHSM2's for development cards)."""

    def __init__(self, path: str) -> None:
        if not os.path.exists(path):
            raise CardError(
                f"Module PKCS#11 introuvable : {path}. Pour un lecteur de cartes, installez OpenSC "
                "(paquet « opensc-pkcs11 » sous Debian ou Ubuntu) ; sinon indiquez le module avec --module "
                "ou la variable CPX_CARD_MODULE."
            )
        try:
            self.lib = pkcs11.lib(path)
        except (RuntimeError, OSError) as exc:
            raise CardError(f"Le module PKCS#11 {path} ne se charge pas : {exc}.") from None
        self.path = path
        # SoftHSM2 has no tries counter: its tokens get the agent's simulated chip.
        self.simulated = str(self.lib.manufacturer_id).startswith("SoftHSM")

    def tokens(self) -> list[pkcs11.Token]:
        """The initialized cards in the readers (SoftHSM2's free slot is a blank, not a card)."""
        found = []
        for slot in self.lib.get_slots(token_present=True):
            token = slot.get_token()
            if token.flags & TokenFlag.TOKEN_INITIALIZED:
                found.append(token)
        return found

    def card(self, number: str | None) -> Card:
        tokens = self.tokens()
        if number:
            chosen = [token for token in tokens if token.label == number]
            if not chosen:
                raise CardError(f"La carte {number} n'est dans aucun lecteur.")
            return Card(self, chosen[0])
        if not tokens:
            raise CardError("Aucune carte dans les lecteurs : insérez votre carte.")
        if len(tokens) > 1:
            numbers = ", ".join(sorted(token.label for token in tokens))
            raise CardError(f"Plusieurs cartes sont présentes ({numbers}) : choisissez-en une avec --card.")
        return Card(self, tokens[0])

    def close_sessions(self, slot_id: int) -> None:
        raw = ctypes.CDLL(self.path)
        raw.C_CloseAllSessions.argtypes = [ctypes.c_ulong]
        raw.C_CloseAllSessions(slot_id)


class Card:
    def __init__(self, module: Module, token: pkcs11.Token) -> None:
        self.module, self.token = module, token
        self.number = str(token.label)
        self.serial = bytes(token.serial).decode("ascii", "replace").strip()
        self.counter: Counter = SimulatedCounter(self.serial) if module.simulated else ChipCounter(token.slot)

    @property
    def description(self) -> str:
        return f"{self.token.manufacturer_id} {self.token.model}".strip()

    def status(self) -> Status:
        return self.counter.status()

    # --- what anyone can read (no code) ------------------------------------------------------------

    def public_objects(self) -> list[CardObject]:
        with self.token.open() as session:
            return [_describe(obj) for obj in session.get_objects()]

    def certificates(self) -> dict[str, x509.Certificate]:
        """The card's certificates by usage (their CKA_ID: 01 authentication, 02 signature)."""
        found = {}
        with self.token.open() as session:
            for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
                usage = USAGES.get(bytes(_attribute(obj, Attribute.ID) or b""))
                if usage:
                    found[usage] = x509.load_der_x509_certificate(bytes(obj[Attribute.VALUE]))
        return found

    def data(self, label: str) -> list[bytes]:
        with self.token.open() as session:
            objects = session.get_objects({Attribute.CLASS: ObjectClass.DATA, Attribute.LABEL: label})
            return [bytes(obj[Attribute.VALUE]) for obj in objects]

    def unblock_key(self) -> ec.EllipticCurvePublicKey:
        """The help-desk's public key written by the station (CPX_UNBLOCK, write-protected)."""
        with self.token.open() as session:
            objects = list(
                session.get_objects({Attribute.CLASS: ObjectClass.DATA, Attribute.LABEL: UNBLOCK_LABEL})
            )
            if not objects:
                raise CardError(
                    "Cette carte ne se débloque pas par le service d'assistance (elle n'a pas d'objet "
                    "CPX_UNBLOCK) : utilisez le PUK du courrier de codes (cpx-card unblock)."
                )
            if len(objects) > 1 or _attribute(objects[0], Attribute.MODIFIABLE) is not False:
                raise CardError(
                    "L'objet CPX_UNBLOCK de cette carte a été altéré : faites remplacer la carte."
                )
            value = bytes(objects[0][Attribute.VALUE])
        try:
            key = serialization.load_der_public_key(value)
        except ValueError:
            key = None
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise CardError("L'objet CPX_UNBLOCK de cette carte n'est pas une clé P-256.")
        return key

    # --- the codes ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def session(self, pin: str, *, rw: bool = False) -> Iterator[pkcs11.Session]:
        """A session logged in with the PIN, the try counted."""
        with self.counter.attempt("PIN") as attempt:
            session = self._login(attempt, rw=rw, user_pin=pin)
            attempt.right()
        with session:
            yield session

    def private_objects(self, pin: str) -> list[CardObject]:
        with self.session(pin) as session:
            return [_describe(obj) for obj in session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})]

    def change_pin(self, pin: str, new_pin: str) -> None:
        with self.session(pin, rw=True) as session:
            session.set_pin(pin, new_pin)

    def unblock(self, puk: str, new_pin: str, *, what: str = "") -> None:
        """Log in as security officer with the PUK and set a new PIN (C_InitPIN): the PIN is unblocked.
        ``what`` names the wrong code in the message (a help-desk response is a PUK try)."""
        with self.counter.attempt("PUK") as attempt, self._login(attempt, so_pin=puk, what=what) as session:
            attempt.right()
            session.init_pin(new_pin)
            attempt.pin_reset()

    def sign(self, pin: str, data: bytes, usage: str = "auth") -> bytes:
        """CKM_SHA256_RSA_PKCS with the card's key. The signature key (CKA_ALWAYS_AUTHENTICATE) wants the PIN
        again for this one signature: python-pkcs11 logs in CKU_CONTEXT_SPECIFIC between C_SignInit and
        C_Sign when given ``pin`` (given to a key without the attribute, that login would fail)."""
        key_id, label = KEYS[usage]
        with self.session(pin) as session:
            try:
                key: Any = session.get_key(ObjectClass.PRIVATE_KEY, KeyType.RSA, id=key_id)
            except NoSuchKey:
                raise CardError(f"La carte n'a pas de clé {label}.") from None
            again = {"pin": pin} if _attribute(key, Attribute.ALWAYS_AUTHENTICATE) else {}
            return bytes(key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS, **again))

    def _login(
        self,
        attempt: Any,
        *,
        rw: bool = True,
        user_pin: str | None = None,
        so_pin: str | None = None,
        what: str = "",
    ) -> pkcs11.Session:
        """Open a session and log in with the code (the security officer's sessions are read-write)."""
        try:
            return self.token.open(rw=rw, user_pin=user_pin, so_pin=so_pin)
        except PinIncorrect:
            self.module.close_sessions(self.token.slot.slot_id)
            attempt.wrong(what=what)
            raise  # (wrong() raises)
        except PinLocked:  # the chip counted to the end before the agent knew
            self.module.close_sessions(self.token.slot.slot_id)
            raise blocked(attempt.code) from None

    # --- the help-desk challenge kept on the card (two-step form) ----------------------------------

    def challenge_create(self) -> ec.EllipticCurvePublicKey:
        """A new ephemeral P-256 key on the card, in place of any earlier one: the private half stays
        there (public object, but sensitive and never extractable: usable without the blocked PIN, readable
        by no one), the public half is the challenge."""
        with self.token.open(rw=True) as session:
            _destroy_challenges(session)
            parameters = session.create_domain_parameters(
                KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True
            )
            public, _private = parameters.generate_keypair(
                store=True,
                label=CHALLENGE_LABEL,
                public_template={Attribute.TOKEN: False},
                private_template={
                    Attribute.PRIVATE: False,
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.DERIVE: True,
                    Attribute.SIGN: False,
                },
            )
            key = serialization.load_der_public_key(encode_ec_public_key(public))
        assert isinstance(key, ec.EllipticCurvePublicKey)
        return key

    def challenge_consume(self, server_key: ec.EllipticCurvePublicKey) -> bytes:
        """ECDH of the kept challenge key with the help-desk's key (the raw x coordinate), then the
        challenge is destroyed: the first response uses it up, right or wrong."""
        point = server_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        with self.token.open(rw=True) as session:
            keys: list[Any] = list(
                session.get_objects(
                    {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: CHALLENGE_LABEL}
                )
            )
            if len(keys) != 1:
                _destroy_challenges(session)
                raise CardError(
                    "Aucun défi en cours sur cette carte (il sert une seule fois) : demandez-en un nouveau "
                    "avec « cpx-card helpdesk --challenge »."
                )
            try:
                secret = keys[0].derive_key(
                    KeyType.GENERIC_SECRET,
                    256,
                    mechanism_param=(KDF.NULL, None, point),
                    template={
                        Attribute.TOKEN: False,
                        Attribute.PRIVATE: False,
                        Attribute.SENSITIVE: False,
                        Attribute.EXTRACTABLE: True,
                    },
                )
                return bytes(secret[Attribute.VALUE])
            finally:
                _destroy_challenges(session)

    def challenge_pending(self) -> bool:
        with self.token.open() as session:
            return any(session.get_objects({Attribute.LABEL: CHALLENGE_LABEL}))


def _destroy_challenges(session: pkcs11.Session) -> None:
    for obj in list(session.get_objects({Attribute.LABEL: CHALLENGE_LABEL})):
        obj.destroy()


def _attribute(obj: Any, attribute: Attribute) -> Any:
    """An attribute, or None where the module does not have it (OpenSC knows no CKA_DESTROYABLE)."""
    try:
        return obj[attribute]
    except PKCS11Error:
        return None


def _describe(obj: Any) -> CardObject:
    object_class = _attribute(obj, Attribute.CLASS)
    flags = []
    if object_class == ObjectClass.PRIVATE_KEY:
        checks = [
            (Attribute.SENSITIVE, "sensible"),
            (Attribute.NEVER_EXTRACTABLE, "jamais extractible"),
            (Attribute.ALWAYS_AUTHENTICATE, "PIN à chaque signature"),
        ]
        flags = [name for attribute, name in checks if _attribute(obj, attribute)]
        if _attribute(obj, Attribute.EXTRACTABLE):
            flags.append("EXTRACTIBLE")
    return CardObject(
        kind=CLASS_NAMES.get(object_class, f"objet {object_class}"),
        label=str(_attribute(obj, Attribute.LABEL) or ""),
        key_id=bytes(_attribute(obj, Attribute.ID) or b""),
        modifiable=_attribute(obj, Attribute.MODIFIABLE),
        destroyable=_attribute(obj, Attribute.DESTROYABLE),
        flags=flags,
    )
