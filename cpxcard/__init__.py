"""cpx-card, the holder's card agent: show the card, change the PIN, unblock it (PUK or help desk), sign the
platform's challenges. It runs on the holder's computer with the card in its reader, through PKCS#11
(OpenSC's module for real readers, SoftHSM2 for development cards); docs/cpx-card.md.

It depends on python-pkcs11 and cryptography only, and imports nothing of the platform (an import-linter
contract in pyproject.toml): the platform never sees a PIN or a PUK, the agent never sees the platform.
"""
