"""The tries counters of a development card: SoftHSM2 has none, so the agent keeps them.

SoftHSM2 accepts any number of wrong PINs and security-officer PINs. A chip counts: 3 wrong PINs in a row
block the PIN (only the PUK unblocks it), 3 wrong PUKs in a row and the card is dead (it must be
replaced); a correct code resets its counter. The agent simulates that chip for SoftHSM2 tokens with a file
beside the token store, ``<tokendir>/cpx-card-state.json``, keyed by token serial: counts only, never a
code. Two agents count one after the other (an exclusive lock on ``cpx-card-state.lock`` is held from
reading the count to writing it, across the card's answer), and the file is replaced whole (rename) so a
crash never leaves half of it.

Programs other than the agent (pkcs11-tool) do not see this counter: it is the development card's chip.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from .codes import CardError, Status, wrong_code

try:
    import fcntl
except ImportError:  # Windows: real cards only (no SoftHSM2 development cards there)
    fcntl = None  # type: ignore[assignment]

PIN_TRIES = 3
PUK_TRIES = 3
STATE_FILE = "cpx-card-state.json"
LOCK_FILE = "cpx-card-state.lock"
DEFAULT_CONF = Path("/etc/softhsm/softhsm2.conf")
DEFAULT_TOKENDIR = Path("/var/lib/softhsm/tokens")


def softhsm_conf() -> Path:
    """The configuration SoftHSM2 reads: $SOFTHSM2_CONF, else the user's, else the system's."""
    if os.environ.get("SOFTHSM2_CONF"):
        return Path(os.environ["SOFTHSM2_CONF"])
    user = Path.home() / ".config" / "softhsm2" / "softhsm2.conf"
    return user if user.exists() else DEFAULT_CONF


def token_dir(conf: Path) -> Path:
    """``directories.tokendir`` of a SoftHSM2 configuration file."""
    try:
        lines = conf.read_text().splitlines()
    except OSError as exc:
        raise CardError(f"Configuration SoftHSM2 illisible ({conf}) : {exc.strerror}.") from None
    for line in lines:
        name, _, value = line.split("#", 1)[0].partition("=")
        if name.strip() == "directories.tokendir" and value.strip():
            return Path(value.strip())
    return DEFAULT_TOKENDIR


@dataclass
class Tries:
    """Wrong codes typed in a row on one card."""

    pin_failures: int = 0
    puk_failures: int = 0

    @property
    def status(self) -> Status:
        return Status(
            pin_left=max(PIN_TRIES - self.pin_failures, 0),
            puk_left=max(PUK_TRIES - self.puk_failures, 0),
            pin_blocked=self.pin_failures >= PIN_TRIES,
            dead=self.puk_failures >= PUK_TRIES,
        )


class StateFile:
    def __init__(self, directory: Path) -> None:
        self.path = directory / STATE_FILE
        self.lock_path = directory / LOCK_FILE

    @contextlib.contextmanager
    def locked(self) -> Iterator[dict[str, Tries]]:
        """The counters of every card, under the lock; written back when the block ends (even by an
        exception: a wrong code is recorded by raising)."""
        if fcntl is None:
            raise CardError("Les cartes de développement SoftHSM2 demandent Linux ou macOS.")
        try:
            handle = open(self.lock_path, "a")  # noqa: SIM115 (held across the yield)
        except OSError as exc:
            raise CardError(
                f"Compteurs d'essais inaccessibles ({self.lock_path}) : {exc.strerror}."
            ) from None
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            cards = self._read()
            before = {serial: asdict(tries) for serial, tries in cards.items()}
            try:
                yield cards
            finally:
                if {serial: asdict(tries) for serial, tries in cards.items()} != before:
                    self._write(cards)

    def _read(self) -> dict[str, Tries]:
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            # Never start again from zero on a damaged file: that would give every card fresh tries.
            raise CardError(f"Compteurs d'essais illisibles ({self.path}) : {exc}.") from None
        return {
            serial: Tries(int(entry.get("pin_failures", 0)), int(entry.get("puk_failures", 0)))
            for serial, entry in raw.get("cards", {}).items()
        }

    def _write(self, cards: dict[str, Tries]) -> None:
        body = {"v": 1, "cards": {serial: asdict(tries) for serial, tries in sorted(cards.items())}}
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(body, indent=1) + "\n")
        os.replace(temporary, self.path)


class Attempt:
    """One code tried on the card, inside the counter's lock."""

    def __init__(self, tries: Tries, code: str) -> None:
        self.tries, self.code = tries, code

    def wrong(self, *, what: str = "") -> None:
        if self.code == "PIN":
            self.tries.pin_failures += 1
        else:
            self.tries.puk_failures += 1
        raise wrong_code(self.code, self.tries.status, what=what)

    def right(self) -> None:
        if self.code == "PIN":
            self.tries.pin_failures = 0
        else:
            self.tries.puk_failures = 0

    def pin_reset(self) -> None:
        """A new PIN was set with the PUK: the PIN is unblocked."""
        self.tries.pin_failures = 0


class SimulatedCounter:
    """The tries of one SoftHSM2 token (by serial) in the store's state file."""

    simulated = True

    def __init__(self, serial: str, directory: Path | None = None) -> None:
        self.serial = serial
        self.state = StateFile(directory or token_dir(softhsm_conf()))

    def status(self) -> Status:
        with self.state.locked() as cards:
            return cards.get(self.serial, Tries()).status

    @contextlib.contextmanager
    def attempt(self, code: str) -> Iterator[Attempt]:
        """Refuse a code the card no longer takes, else hand the attempt over, lock held."""
        with self.state.locked() as cards:
            tries = cards.setdefault(self.serial, Tries())
            tries.status.refuse(code)
            yield Attempt(tries, code)
