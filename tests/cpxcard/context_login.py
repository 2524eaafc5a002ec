"""Signatures with a card's keys through the bare PKCS#11 interface (ctypes on the module), to see what
the module itself enforces, without python-pkcs11 or the agent in the way.

``python -m tests.cpxcard.context_login <module> <card number>``, the PIN on standard input; prints, as
JSON, the return value (and signature, base64) of each C_Sign: with the signature key without and with a
C_Login(CKU_CONTEXT_SPECIFIC) after C_SignInit, then without again, and with the authentication key.
"""

from __future__ import annotations

import base64
import ctypes
import json
import sys

CKR_OK = 0
CKU_USER, CKU_CONTEXT_SPECIFIC = 1, 2
CKF_SERIAL_SESSION = 0x4
CKA_CLASS, CKA_LABEL = 0x0, 0x3
CKO_PRIVATE_KEY = 0x3
CKM_SHA256_RSA_PKCS = 0x40
ulong = ctypes.c_ulong


class Mechanism(ctypes.Structure):
    _fields_ = [("mechanism", ulong), ("parameter", ctypes.c_void_p), ("parameter_len", ulong)]


class Attribute(ctypes.Structure):
    _fields_ = [("type", ulong), ("value", ctypes.c_void_p), ("value_len", ulong)]


def check(rv: int, call: str) -> None:
    if rv != CKR_OK:
        raise SystemExit(f"{call}: 0x{rv:x}")


def slot_of(lib: ctypes.CDLL, label: str) -> int:
    count = ulong()
    check(lib.C_GetSlotList(1, None, ctypes.byref(count)), "C_GetSlotList")
    slots = (ulong * count.value)()
    check(lib.C_GetSlotList(1, slots, ctypes.byref(count)), "C_GetSlotList")
    for slot in slots:
        info = ctypes.create_string_buffer(512)  # CK_TOKEN_INFO: the label is its first 32 bytes
        check(lib.C_GetTokenInfo(ulong(slot), info), "C_GetTokenInfo")
        if info.raw[:32].decode().strip() == label:
            return slot
    raise SystemExit(f"no token {label}")


def private_key(lib: ctypes.CDLL, session: ulong, label: str) -> ulong:
    object_class = ulong(CKO_PRIVATE_KEY)
    name = label.encode()
    template = (Attribute * 2)(
        Attribute(
            CKA_CLASS, ctypes.cast(ctypes.byref(object_class), ctypes.c_void_p), ctypes.sizeof(object_class)
        ),
        Attribute(CKA_LABEL, ctypes.cast(ctypes.c_char_p(name), ctypes.c_void_p), len(name)),
    )
    check(lib.C_FindObjectsInit(session, template, 2), "C_FindObjectsInit")
    handle, found = ulong(), ulong()
    check(lib.C_FindObjects(session, ctypes.byref(handle), 1, ctypes.byref(found)), "C_FindObjects")
    check(lib.C_FindObjectsFinal(session), "C_FindObjectsFinal")
    if found.value != 1:
        raise SystemExit(f"no private key {label}")
    return handle


def sign(lib: ctypes.CDLL, session: ulong, key: ulong, data: bytes, pin: bytes | None) -> dict:
    mechanism = Mechanism(CKM_SHA256_RSA_PKCS, None, 0)
    check(lib.C_SignInit(session, ctypes.byref(mechanism), key), "C_SignInit")
    result: dict = {}
    if pin is not None:
        result["context_login"] = lib.C_Login(session, CKU_CONTEXT_SPECIFIC, pin, len(pin))
    signature = ctypes.create_string_buffer(512)
    length = ulong(len(signature))
    result["rv"] = lib.C_Sign(session, data, len(data), signature, ctypes.byref(length))
    if result["rv"] == CKR_OK:
        result["signature"] = base64.b64encode(signature.raw[: length.value]).decode()
    return result


def main(module: str, label: str, pin: bytes) -> dict:
    lib = ctypes.CDLL(module)
    check(lib.C_Initialize(None), "C_Initialize")
    session = ulong()
    slot = slot_of(lib, label)
    check(
        lib.C_OpenSession(ulong(slot), CKF_SERIAL_SESSION, None, None, ctypes.byref(session)), "C_OpenSession"
    )
    check(lib.C_Login(session, CKU_USER, pin, len(pin)), "C_Login")
    signature_key, auth_key = private_key(lib, session, "CPS_SIGN"), private_key(lib, session, "CPS_AUTH")
    data = b"one PIN, one signature"
    return {
        "sign_without": sign(lib, session, signature_key, data, None),
        "sign_with": sign(lib, session, signature_key, data, pin),
        "sign_without_again": sign(lib, session, signature_key, data, None),
        "auth_without": sign(lib, session, auth_key, data, None),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], sys.stdin.readline().strip().encode())))
