"""``cpx-card``: the holder's commands (docs/cpx-card.md).

Codes are typed into the agent, never given on its command line (where ``ps`` shows them to every user
of the computer): read with getpass on a terminal, or one per line from standard input when it is not a
terminal (scripts, tests). Results go to standard output, prompts and messages to standard error.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import getpass
import os
import sys
from collections.abc import Callable
from typing import IO, NoReturn

from pkcs11.exceptions import PinLenRange, PKCS11Error

from . import helpdesk, holder
from .card import DEFAULT_MODULE, HOLDER_LABEL, UNBLOCK_LABEL, Card, CardObject, Module
from .codes import EXIT_OK, CardError, Status, pin_format, puk_format

ACTIVATION_PREFIX = "cpx-card-activation|"
USAGE_NAMES = {"auth": "authentification", "sign": "signature"}


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """Exit 1, not argparse's 2: 2 means a wrong code."""
        self.print_usage(sys.stderr)
        self.exit(1, f"cpx-card : {message}\n")


class Console:
    """Where the agent writes and where it reads codes."""

    def __init__(self, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> None:
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr

    def out(self, text: str = "") -> None:
        print(text, file=self.stdout, flush=True)

    def say(self, text: str) -> None:
        print(text, file=self.stderr, flush=True)

    def code(self, prompt: str) -> str:
        if self.stdin.isatty():
            return getpass.getpass(prompt)
        self.stderr.write(prompt)
        self.stderr.flush()
        line = self.stdin.readline()
        if not line:
            raise CardError("Saisie interrompue : aucun code lu.")
        self.stderr.write("\n")
        return line.strip()

    def new_pin(self) -> str:
        first = pin_format(self.code("Nouveau PIN (4 à 8 chiffres) : "))
        if self.code("Nouveau PIN, à nouveau : ") != first:
            raise CardError("Les deux saisies du nouveau PIN diffèrent : rien n'a été changé.")
        return first


# --- commands --------------------------------------------------------------------------------------


def show(card: Card, args: argparse.Namespace, io: Console) -> int:
    io.out(f"Carte {card.number}")
    io.out(f"  puce : {card.description}, numéro de série {card.serial}")
    status = card.status()
    io.out(
        "Codes"
        + (" (carte de développement : essais comptés par cpx-card)" if card.counter.simulated else "")
    )
    for line in _codes(status):
        io.out(f"  {line}")
    _show_certificates(card, io)
    verified = _show_holder(card, args.ca_file, io)
    objects = card.public_objects()
    if args.keys:
        objects += card.private_objects(pin_format(io.code("PIN : ")))
    io.out("Objets de la carte")
    for obj in sorted(objects, key=lambda obj: (obj.kind, obj.label, obj.key_id)):
        io.out(f"  {_object_line(obj)}")
    if not args.keys:
        io.out("  (les clés privées ne se voient qu'après le PIN : cpx-card show --keys)")
    io.out(
        "Déblocage par le service d'assistance : "
        + ("possible" if card.data(UNBLOCK_LABEL) else "non (pas d'objet CPX_UNBLOCK)")
        + (" ; un défi est en cours" if card.challenge_pending() else "")
    )
    if not verified:
        raise CardError("Les données du porteur de cette carte ne sont pas vérifiées (voir ci-dessus).")
    return EXIT_OK


def _codes(status: Status) -> list[str]:
    if status.dead:
        return ["carte hors d'usage : PIN et PUK bloqués, elle doit être remplacée"]
    if status.pin_blocked:
        pin = "bloqué (cpx-card unblock avec le PUK, ou cpx-card helpdesk)"
    else:
        pin = _left(status.pin_left, low=status.pin_low)
    return [f"PIN : {pin}", f"PUK : {_left(status.puk_left)}"]


def _left(left: int | None, *, low: bool = False) -> str:
    if left is None:  # a real card tells only "count low"
        return "peu d'essais restants" if low else "utilisable"
    plural = "s" if left > 1 else ""
    return f"{left} essai{plural} restant{plural}"


def _show_certificates(card: Card, io: Console) -> None:
    io.out("Certificats")
    certificates = card.certificates()
    if not certificates:
        io.out("  aucun")
    for usage, certificate in sorted(certificates.items()):
        io.out(f"  {USAGE_NAMES[usage]} :")
        io.out(f"    sujet : {certificate.subject.rfc4514_string()}")
        io.out(f"    émetteur : {certificate.issuer.rfc4514_string()}")
        io.out(f"    numéro de série : {certificate.serial_number:x}")
        start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
        io.out(f"    valable du {start:%d/%m/%Y} au {end:%d/%m/%Y}")


def _show_holder(card: Card, ca_file: str | None, io: Console) -> bool:
    """Print the holder data; False if it does not verify (or is not this card's)."""
    io.out("Données du porteur")
    values = card.data(HOLDER_LABEL)
    if len(values) != 1:
        io.out(f"  {'absentes' if not values else 'en plusieurs exemplaires : carte altérée'}")
        return False
    authorities = holder.ca_file(ca_file) if ca_file else None
    try:
        data = holder.verify(values[0], authorities)
    except holder.Unverified as exc:
        io.out(f"  NON VÉRIFIÉES : {exc}")
        return False
    when = f", le {data.signed_at:%d/%m/%Y}" if data.signed_at else ""
    io.out(f"  signées par : {data.signer.subject.rfc4514_string()}{when}")
    io.out(
        f"  signature vérifiée avec les autorités de {ca_file}"
        if ca_file
        else "  signature valide (vérifiez l'autorité avec --ca-file et les certificats publiés sous /pki/)"
    )
    for line in _holder_lines(data.content):
        io.out(f"  {line}")
    if data.content.get("card_number") != card.number:
        io.out(f"  NON VÉRIFIÉES : ce sont les données de la carte {data.content.get('card_number')}")
        return False
    return True


def _holder_lines(content: dict) -> list[str]:
    person = content.get("holder") or {}
    name = " ".join(str(person.get(key) or "") for key in ("civility", "first_name", "last_name")).split()
    ids = [f"{key.upper()} {person[key]}" for key in ("rpps", "adeli") if person.get(key)]
    lines = [f"porteur : {' '.join(name)} ({', '.join(ids) or person.get('national_id', '')})"]
    profession = content.get("profession") or {}
    if profession:
        lines.append(f"profession : {profession.get('label', '')} ({profession.get('code', '')})")
    issued, expires = _date(content.get("issued")), _date(content.get("expires"))
    lines.append(f"carte {content.get('card_type', '')} valable du {issued} au {expires}")
    situations = content.get("situations") or []
    lines.append(f"situations d'exercice : {len(situations)}")
    lines += [f"  - {s.get('structure_name') or s.get('structure_id') or '?'}" for s in situations]
    return lines


def _date(value: object) -> str:
    """An ISO date of the holder data as the French write it."""
    try:
        return f"{dt.date.fromisoformat(str(value)):%d/%m/%Y}"
    except ValueError:
        return str(value)


def _object_line(obj: CardObject) -> str:
    name = f"{obj.kind} {obj.label}".strip() + (f" (id {obj.key_id.hex()})" if obj.key_id else "")
    if obj.write_protected:
        protection = "protégé en écriture (ni modifiable ni supprimable)"
    else:
        parts = []
        if obj.modifiable is not False:
            parts.append("MODIFIABLE" if obj.modifiable else "modification : non indiqué")
        if obj.destroyable is not False:
            parts.append("SUPPRIMABLE" if obj.destroyable else "suppression : non indiqué")
        protection = ", ".join(parts)
    return " ; ".join([f"{name} : {protection}", *obj.flags])


def change_pin(card: Card, args: argparse.Namespace, io: Console) -> int:
    card.status().refuse("PIN")
    pin = pin_format(io.code("PIN actuel : "))
    new_pin = io.new_pin()
    card.change_pin(pin, new_pin)
    io.say("PIN changé.")
    return EXIT_OK


def unblock(card: Card, args: argparse.Namespace, io: Console) -> int:
    card.status().refuse("PUK")
    puk = puk_format(io.code("PUK (8 chiffres, courrier de codes) : "))
    new_pin = io.new_pin()
    card.unblock(puk, new_pin)
    io.say("Carte débloquée : le nouveau PIN est en place.")
    return EXIT_OK


def sign(card: Card, args: argparse.Namespace, io: Console) -> int:
    challenge: str = args.challenge
    if challenge.startswith(ACTIVATION_PREFIX):
        meant_for = challenge.split("|")[1]
        if meant_for != card.number:
            raise CardError(f"Ce défi est pour la carte {meant_for}, pas pour la carte {card.number}.")
    card.status().refuse("PIN")
    io.say(f"Signature ({USAGE_NAMES[args.key]}) de : {challenge}")
    pin = pin_format(io.code("PIN : "))
    signature = card.sign(pin, challenge.encode(), args.key)
    io.out(base64.b64encode(signature).decode())
    return EXIT_OK


def help_desk(card: Card, args: argparse.Namespace, io: Console) -> int:
    """Interactive (the challenge lives in this process) or in two steps (kept on the card)."""
    card.status().refuse("PUK")
    server_key = card.unblock_key()
    if args.challenge:
        _print_challenge(card, helpdesk.challenge(card.challenge_create()), io)
        io.out("Puis, avec la réponse : cpx-card helpdesk --response")
        return EXIT_OK
    if args.response is not None:
        if not card.challenge_pending():
            card.challenge_consume(server_key)  # (raises: no challenge kept on the card)
        response = helpdesk.response_format(args.response or io.code("Réponse du service d'assistance : "))
        new_pin = io.new_pin()
        secret = card.challenge_consume(server_key)
    else:
        key = helpdesk.new_key()
        _print_challenge(card, helpdesk.challenge(key.public_key()), io)
        response = helpdesk.response_format(io.code("Réponse du service d'assistance : "))
        new_pin = io.new_pin()
        secret = helpdesk.shared_secret(key, server_key)
    what = "Réponse du service d'assistance incorrecte (c'est un essai de PUK)"
    card.unblock(helpdesk.puk(response, secret, card.number), new_pin, what=what)
    io.say("Carte débloquée : le nouveau PIN est en place.")
    return EXIT_OK


def _print_challenge(card: Card, challenge: str, io: Console) -> None:
    io.out(f"Carte : {card.number}")
    io.out("Défi à lire au service d'assistance (il ne sert qu'une fois) :")
    io.out(f"  {challenge}")


COMMANDS: dict[str, Callable[[Card, argparse.Namespace, Console], int]] = {
    "show": show,
    "change-pin": change_pin,
    "unblock": unblock,
    "sign": sign,
    "helpdesk": help_desk,
}


def parser() -> Parser:
    common = Parser(add_help=False)
    common.add_argument(
        "--module",
        default=argparse.SUPPRESS,
        help=f"module PKCS#11 (variable CPX_CARD_MODULE ; par défaut celui d'OpenSC, {DEFAULT_MODULE})",
    )
    common.add_argument(
        "--card", default=argparse.SUPPRESS, metavar="NUMÉRO", help="la carte (par défaut la seule présente)"
    )
    common.add_argument("-h", "--help", action="help", help="cette aide")
    top = Parser(
        prog="cpx-card",
        description="L'agent de la carte CPx du porteur (docs/cpx-card.md).",
        epilog="Le PIN et le PUK se tapent dans l'agent, jamais sur la ligne de commande. "
        "Codes de sortie : 0 fait, 1 erreur, 2 code faux (essais restants indiqués), 3 PIN bloqué ou "
        "carte hors d'usage.",
        parents=[common],
        add_help=False,
    )
    commands = top.add_subparsers(
        title="commandes", dest="command", required=True, metavar="COMMANDE", parser_class=Parser
    )
    show_parser = commands.add_parser("show", parents=[common], add_help=False, help="afficher la carte")
    show_parser.add_argument(
        "--ca-file", help="certificats des autorités publiés (PEM) pour vérifier les données"
    )
    show_parser.add_argument(
        "--keys", action="store_true", help="demander le PIN et montrer aussi les clés privées"
    )
    commands.add_parser("change-pin", parents=[common], add_help=False, help="changer le PIN")
    commands.add_parser("unblock", parents=[common], add_help=False, help="débloquer avec le PUK")
    sign_parser = commands.add_parser(
        "sign", parents=[common], add_help=False, help="signer un défi de la plateforme"
    )
    sign_parser.add_argument("challenge", metavar="DÉFI")
    sign_parser.add_argument(
        "--key", choices=sorted(USAGE_NAMES), default="auth", help="clé (auth par défaut)"
    )
    desk = commands.add_parser(
        "helpdesk", parents=[common], add_help=False, help="déblocage par l'assistance"
    )
    steps = desk.add_mutually_exclusive_group()
    steps.add_argument("--challenge", action="store_true", help="afficher un défi et le garder sur la carte")
    steps.add_argument(
        "--response", nargs="?", const="", metavar="RÉPONSE", help="répondre au défi gardé sur la carte"
    )
    return top


def main(argv: list[str] | None = None, io: Console | None = None) -> int:
    io = io or Console(sys.stdin, sys.stdout, sys.stderr)
    args = parser().parse_args(argv)
    module_path = getattr(args, "module", None) or os.environ.get("CPX_CARD_MODULE") or DEFAULT_MODULE
    try:
        card = Module(module_path).card(getattr(args, "card", None))
        return COMMANDS[args.command](card, args, io)
    except CardError as exc:
        io.say(f"cpx-card : {exc}")
        return exc.exit_code
    except PinLenRange:
        io.say("cpx-card : la carte refuse cette longueur de PIN.")
        return 1
    except PKCS11Error as exc:
        io.say(f"cpx-card : la carte a refusé l'opération ({type(exc).__name__}).")
        return 1
    except KeyboardInterrupt:
        io.say("\ncpx-card : interrompu.")
        return 1
