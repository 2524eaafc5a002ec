"""Schemathesis against the live OpenAPI schema (/api/schema/), once per persona: anonymous, a holder, an
Ordre operator (CNOM), an ANS operator, and an ANS operator under production-like settings (DEBUG off,
HTTPS, what ``check --deploy`` asks for). Every operation, with valid and with invalid data, under every
check schemathesis has (``schemathesis.checks``: no server error, status code, content type, headers and
body in the schema, invalid data rejected, valid data accepted, authentication not ignored...).

The requests go through the real WSGI application (in-process, the test's database). Bounded: a few
examples per operation and generation mode, so the whole file stays within a few minutes on two cores.
Each persona's counts (operations, test cases, failures) are printed at the end of its run.
"""

from __future__ import annotations

import contextlib
import logging
import re
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks

from core import ratelimit
from registry.models import Account
from tests.api_auth import authorization
from tests.factories import CardFactory, OrderFactory, PaymentFactory, TariffFactory, persona

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

EXAMPLES = 3  # per operation and generation mode
load_all_checks()  # the OpenAPI checks register themselves when first imported
ALL_CHECKS = CHECKS.get_all()

# What `check --deploy` expects of production (deploy/.env.example), behind a TLS-terminating proxy.
PRODUCTION = {
    "DEBUG": False,
    "SECURE_SSL_REDIRECT": True,
    "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
    "SECURE_HSTS_SECONDS": 31536000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_HSTS_PRELOAD": True,
}
PERSONAS = ["anonymous", "holder", "ordre_operator", "ans_operator", "production"]

# What the fuzz finds that is not (yet) fixed at its source: (operation label, check) -> why, or the fix
# being made in the app that owns it. Reported with each run, not failed on; anything else fails the run.
REJECTED = "ST202 Schema-valid request rejected"
KNOWN_DEFECTS: dict[tuple[str, str], str] = {
    # Not a defect: the file's content (an RPPS extraction) is checked, which no schema can say.
    ("POST /api/v1/registry/imports/", REJECTED): "by design: the file's content is validated",
}


@dataclass
class Run:
    persona: str
    operations: int = 0
    cases: int = 0
    failures: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"fuzz {self.persona}: {self.operations} operations, {self.cases} test cases, "
            f"{len(self.failures)} failures ({len(self.known)} known)"
        )


@pytest.fixture
def keep_connection(db) -> Iterator[None]:
    """Requests keep the test's database connection open (as Django's test client does: the WSGI handler
    would close it after each request)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def users(db) -> dict[str, object | None]:
    """One user per persona, with something of theirs for ids to land on now and then."""
    TariffFactory()
    holder = persona(Account.Role.HOLDER)
    card = CardFactory(exercise__professional=holder.account.professional)
    OrderFactory(exercise=card.exercise, professional=card.professional, state="submitted")
    PaymentFactory(order__exercise=card.exercise, order__professional=card.professional)
    ans = persona(Account.Role.ANS_OPERATOR)
    return {
        "anonymous": None,
        "holder": holder,
        "ordre_operator": persona(Account.Role.AUTHORITY_OPERATOR, authority="CNOM"),
        "ans_operator": ans,
        "production": ans,
    }


class ServerErrors(logging.Handler):
    """The tracebacks Django logs for 5xx answers, to report a server error precisely."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.tracebacks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.tracebacks.append("".join(traceback.format_exception(*record.exc_info))[-4000:])


def failed_checks(exc: BaseException) -> list[str]:
    text = str(exc) + "".join(str(e) for e in getattr(exc, "exceptions", ()))
    return sorted(set(re.findall(r"- ([^\n]+)\n", text))) or [text[:200]]


def summary(exc: BaseException) -> str:
    """One line: the failed checks, the status received, and the request to reproduce it."""
    text = str(exc) + "".join(str(e) for e in getattr(exc, "exceptions", ()))
    received = sorted(set(re.findall(r"\n\[(\d{3})\]", text)))
    curl = re.findall(r"(curl [^\n]+)", text)
    return f"{'; '.join(failed_checks(exc))} (got {', '.join(received)}) e.g. {curl[0] if curl else ''}"


def fuzz_operation(operation, headers: dict[str, str], run: Run, base_url: str) -> None:
    for mode in GenerationMode:
        fuzz_mode(operation, mode, headers, run, base_url)


def fuzz_mode(operation, mode: GenerationMode, headers: dict[str, str], run: Run, base_url: str) -> None:

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # report, don't shrink: the whole run stays bounded
        suppress_health_check=list(HealthCheck),
    )
    def test(case) -> None:
        run.cases += 1
        ratelimit.reset()  # each case on its own: the anonymous persona is not fuzzing the 401 limit
        try:
            case.call_and_validate(base_url=base_url, headers=headers, checks=ALL_CHECKS)
        except (Exception, BaseExceptionGroup) as exc:
            known = [KNOWN_DEFECTS.get((operation.label, check)) for check in failed_checks(exc)]
            target = run.known if all(known) else run.failures
            target.append(f"{operation.label} [{mode.value}]: {summary(exc)}")

    with contextlib.suppress(Unsatisfiable):  # no invalid request exists for it (nothing to get wrong)
        test()


def fuzz(app, headers: dict[str, str], run: Run, base_url: str) -> str:
    errors = ServerErrors()
    logging.getLogger("django.request").addHandler(errors)
    try:
        schema = schemathesis.openapi.from_wsgi("/api/schema/", app, base_url=base_url)
        # An operation the schema cannot describe (an Err) has no .ok(): the run fails on it, loudly.
        operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
        run.operations = len(operations)
        for operation in operations:
            fuzz_operation(operation, headers, run, base_url)
    finally:
        logging.getLogger("django.request").removeHandler(errors)
    return "\n".join(dict.fromkeys(errors.tracebacks))


@pytest.mark.parametrize("who", PERSONAS)
def test_every_operation_answers_within_its_schema(who, users, keep_connection, capsys):
    user = users[who]
    headers = {"Authorization": authorization(user)} if user else {}
    run = Run(who)
    own_counters = {"CPX_RATE_LIMIT_PREFIX": f"cpx:ratelimit:fuzz-{uuid.uuid4().hex}:"}
    if who == "production":
        with override_settings(**PRODUCTION, **own_counters):
            tracebacks = fuzz(WSGIHandler(), headers, run, "https://localhost")
    else:
        from config.wsgi import application

        with override_settings(**own_counters):
            tracebacks = fuzz(application, headers, run, "http://localhost")
    with capsys.disabled():
        print(f"\n{run.line()}")
        for known in dict.fromkeys(run.known):
            print(f"  known: {known}")
    assert run.operations > 30
    assert not run.failures, "\n".join(dict.fromkeys(run.failures)) + "\n\n" + tracebacks
