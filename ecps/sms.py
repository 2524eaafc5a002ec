"""Sending text messages: an interface and its backends, chosen by CPX_SMS_BACKEND (a dotted path).

A production deployment plugs its SMS gateway in as a class with the same ``send`` method."""

from __future__ import annotations

import logging
from typing import ClassVar, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)


class SmsUnavailable(Exception):
    """No SMS gateway is configured, or it refused the message."""


class SmsSender(Protocol):
    def send(self, *, to: str, text: str) -> None: ...


class ConsoleSmsSender:
    """Development: the message goes to the log (it holds a one-time code: never in production)."""

    def send(self, *, to: str, text: str) -> None:
        log.warning("SMS to %s: %s", to, text)


class DisabledSmsSender:
    """No gateway configured: activation by codes is not offered."""

    def send(self, *, to: str, text: str) -> None:
        raise SmsUnavailable("no SMS gateway is configured (CPX_SMS_BACKEND)")


class RecordingSmsSender:
    """Tests: messages are kept in ``outbox`` (class-level, like Django's locmem e-mail backend)."""

    outbox: ClassVar[list[tuple[str, str]]] = []

    def send(self, *, to: str, text: str) -> None:
        self.outbox.append((to, text))


def sms_sender() -> SmsSender:
    return import_string(settings.CPX_SMS_BACKEND)()
