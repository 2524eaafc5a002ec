"""Two-person approval for management commands (a forced registry import, the CA's operations).

A command run without ``--approval`` asks for one and stops: it records the request in the name of
``--operator`` (an operator's user name, who must be allowed to request the action), prints its number and
exits with status 2. A second person approves it in the back office (Approbations) or through
``POST /api/v1/approvals/{id}/approve/``, signed in as themselves: that is the control, the command line
only says who asks. The command run again with ``--approval ID`` then uses the permit, once, inside the
transaction of the work it permits (``approvals.services.consume``), so a failed run leaves it unused.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from core.errors import DomainError

from . import services

# The exit status of a command that asked for an approval and did nothing else.
APPROVAL_REQUESTED = 2


def add_approval_arguments(parser: CommandParser) -> None:
    parser.add_argument(
        "--approval",
        type=int,
        metavar="ID",
        help="the number of the approved request for this operation (without it, one is requested)",
    )
    parser.add_argument(
        "--operator",
        metavar="USERNAME",
        help="who runs the command: the requester of a new approval request (required then)",
    )


def operator(username: str | None, *, required: bool) -> Any:
    """The user named ``--operator`` (a signed-in account of the platform), or None when not given."""
    if not username:
        if required:
            raise CommandError("this operation needs a second person's approval: give --operator USERNAME")
        return None
    user = get_user_model().objects.filter(username=username).select_related("account").first()
    if user is None or getattr(user, "account", None) is None:
        raise CommandError(f"no operator account {username!r}")
    return user


def request_and_stop(command: Any, options: dict, **request: Any) -> NoReturn:
    """Record the approval request (``approvals.services.request`` arguments), print its number, stop."""
    actor = operator(options.get("operator"), required=True)
    try:
        asked = services.request(actor=actor, **request)
    except DomainError as exc:
        raise CommandError(f"{exc.code}: {exc.message}") from exc
    command.stdout.write(
        f"approval request {asked.pk} created ({services.label_of(asked.action)}): another operator must "
        f"approve it before {asked.expires_at:%Y-%m-%d %H:%M} (back office > Approbations); then run the "
        f"same command again with --approval {asked.pk}"
    )
    raise CommandError(f"not done: waiting for approval {asked.pk}", returncode=APPROVAL_REQUESTED)


def consume(options: dict, **permit: Any) -> None:
    """Use ``--approval`` (``approvals.services.consume`` arguments) in the caller's transaction."""
    try:
        services.consume(
            request_id=options["approval"], actor=operator(options.get("operator"), required=False), **permit
        )
    except DomainError as exc:
        raise CommandError(f"{exc.code}: {exc.message}") from exc
