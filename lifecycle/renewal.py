"""Renewal: the daily reminder scan, the one-click renewal link, and the Ordres' automatic renewal.

The scan is set-based. For each threshold, one statement per chunk picks the active cards whose expiry
falls in the threshold's window and that have neither had this reminder nor an order under way for them
(``Order.OPEN_STATES``, the orders' own definition, passed to the statement), and records the reminders
at once:

    INSERT INTO lifecycle_renewalreminder ... SELECT ... LIMIT chunk ON CONFLICT DO NOTHING RETURNING id

It reads the partial index ``card_active_until`` (expiry date of active cards only), anti-joins
the reminders on their unique (card, threshold) index, and returns only the rows it inserted; the chunk's
messages are written in the same transaction. So memory is one chunk's, whatever the size of the table; a
crash loses nothing (a chunk is all or nothing); a second run the same day finds nothing; and two
concurrent runs never remind a card twice (ON CONFLICT, and the unique constraint behind it).

The windows do not overlap: the first reminder goes to cards expiring in (second, first] days, the second
to cards expiring in [0, second] days, so a card met for the first time 20 days before its expiry gets
one reminder, not two on the same day.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import connection, transaction
from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cards.models import Card
from core.errors import DomainError, NotPermitted
from core.roles import SEES_ALL, Role, account_of
from notifications.events import Event
from notifications.services import notify
from orders import services as order_services
from orders.models import Order
from registry.models import Profession

from . import errors
from .models import AutoRenewalPolicy, RenewalReminder

log = logging.getLogger(__name__)

LINK_SALT = "cpx.lifecycle.renewal-link"

SCAN_SQL = """
INSERT INTO lifecycle_renewalreminder (card_id, threshold, sent_at, automatic)
SELECT c.id, %(threshold)s, %(now)s, false
  FROM cards_card c
 WHERE c.state = 'active'
   AND c.valid_until > %(after)s
   AND c.valid_until <= %(until)s
   AND NOT EXISTS (SELECT 1 FROM lifecycle_renewalreminder r
                    WHERE r.card_id = c.id AND r.threshold = %(threshold)s)
   AND NOT EXISTS (SELECT 1 FROM orders_order o
                    WHERE o.replaces_id = c.id AND o.state = ANY(%(under_way)s))
 ORDER BY c.valid_until, c.id
 LIMIT %(chunk)s
ON CONFLICT (card_id, threshold) DO NOTHING
RETURNING id
"""


def renewal_windows(today: dt.date) -> list[tuple[int, dt.date, dt.date]]:
    """(threshold, after, until): cards expiring after ``after`` and on or before ``until``."""
    first, second = settings.CPX_REMINDER_FIRST_DAYS, settings.CPX_REMINDER_SECOND_DAYS
    return [
        (first, today + dt.timedelta(days=second), today + dt.timedelta(days=first)),
        (second, today - dt.timedelta(days=1), today + dt.timedelta(days=second)),
    ]


def renewal_reminders_send(*, today: dt.date | None = None, chunk: int | None = None) -> dict[int, int]:
    """The daily scan: send each due reminder once. Returns how many went out per threshold."""
    today = today or timezone.localdate()
    chunk = chunk or settings.CPX_RENEWAL_SCAN_CHUNK
    policies = _auto_renewal_policies()
    _url_template.cache_clear()
    sent: dict[int, int] = {}
    for threshold, after, until in renewal_windows(today):
        sent[threshold] = 0
        while True:
            count = _remind_chunk(threshold, after, until, chunk, policies)
            sent[threshold] += count
            if count < chunk:
                break
    return sent


def _remind_chunk(threshold: int, after: dt.date, until: dt.date, chunk: int, policies: set) -> int:
    params: dict[str, Any] = {"threshold": threshold, "now": timezone.now(), "chunk": chunk}
    params.update(after=after, until=until, under_way=list(Order.OPEN_STATES))
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(SCAN_SQL, params)
            ids = [row[0] for row in cursor.fetchall()]
        reminders = RenewalReminder.objects.filter(pk__in=ids).select_related(
            "card__professional", "card__exercise__profession"
        )
        for reminder in reminders.order_by("pk"):
            _remind(reminder, policies, automatic=threshold == settings.CPX_REMINDER_FIRST_DAYS)
    return len(ids)


def _auto_renewal_policies() -> set[tuple[int, str]]:
    rows = AutoRenewalPolicy.objects.filter(enabled=True).values_list("authority_id", "profession_id")
    return set(rows)


def _auto_renews(card: Card, policies: set) -> bool:
    exercise = card.exercise
    if exercise is None or not card.professional.rpps:  # ADELI professions and staff cards: ANS, no Ordre
        return False
    return (exercise.profession.authority_id, exercise.profession_id) in policies


def _remind(reminder: RenewalReminder, policies: set, *, automatic: bool) -> None:
    card = reminder.card
    url = renewal_link_url(reminder)
    if automatic and _auto_renews(card, policies):
        order = _order_renewal(card, order_services.system_user())
        if order is not None:
            reminder.automatic, reminder.renewal_order_id = True, order.pk
            reminder.link_used_at = reminder.sent_at  # the renewal is under way: the link has no use
            reminder.save(update_fields=["automatic", "renewal_order_id", "link_used_at"])
            url = _absolute(("portal:order",), order.pk)
    notify(
        recipient=card.professional,
        event=Event.RENEWAL_DUE,
        context={
            "card_number": card.display_number,
            "card_type": card.card_type,
            "expires_on": card.valid_until.isoformat(),
            "renewal_url": url,
            "automatic": reminder.automatic,
        },
        dedup_key=f"renewal_due:{card.pk}:{reminder.threshold}",
    )


def _order_renewal(card: Card, actor: Any) -> Order | None:
    """Place the renewal order; None (logged) if the orders workflow refuses it."""
    try:
        return _place_renewal(card, actor)
    except DomainError as exc:
        log.warning("card %s: automatic renewal refused (%s): %s", card.pk, exc.code, exc.message)
        return None


def _place_renewal(card: Card, actor: Any) -> Order:
    with transaction.atomic():  # a savepoint: a refused order leaves nothing behind
        return order_services.order_place(
            actor=actor,
            professional=card.professional,
            card_type=card.card_type,
            kind=Order.Kind.RENEWAL,
            exercise=card.exercise,
            structure=card.structure,
            replaces=card,
        )


# --- the one-click renewal link ------------------------------------------------------------------------


def renewal_link_token(reminder: RenewalReminder) -> str:
    """A signed, timestamped token naming the reminder (and so the card); it carries no secret."""
    return signing.TimestampSigner(salt=LINK_SALT).sign_object({"r": reminder.pk, "c": reminder.card_id})


def renewal_link_url(reminder: RenewalReminder) -> str:
    """The link in the reminder: the portal's confirmation page with the token after ``#``. A browser never
    sends a URL's fragment, so the token reaches no access log: the page's script posts it."""
    return f"{_url_template(('portal:renew',))}#{renewal_link_token(reminder)}"


def _absolute(names: tuple[str, ...], arg: Any) -> str:
    template = _url_template(names)
    return template.replace(PLACEHOLDER, str(arg)).replace(NUMERIC_PLACEHOLDER, str(arg))


PLACEHOLDER, NUMERIC_PLACEHOLDER = "0PLACEHOLDER0", "4242424242424242"


@functools.lru_cache(maxsize=8)
def _url_template(names: tuple[str, ...]) -> str:
    """The absolute URL of the first route that exists, with a placeholder for its argument. Resolved once
    per scan (``renewal_reminders_send`` clears the cache), not once per reminder."""
    base = settings.CPX_BASE_URL.rstrip("/")
    for name in names:
        for args in ([PLACEHOLDER], [NUMERIC_PLACEHOLDER], []):
            try:
                return f"{base}{reverse(name, args=args)}"
            except NoReverseMatch:
                continue
    return f"{base}/"


def renewal_link_reminder(*, token: str) -> RenewalReminder:
    """The reminder a link names, if the signature holds and the link has not expired."""
    max_age = dt.timedelta(days=settings.CPX_RENEWAL_LINK_MAX_AGE_DAYS)
    try:
        payload = signing.TimestampSigner(salt=LINK_SALT).unsign_object(token, max_age=max_age)
    except signing.SignatureExpired:
        raise errors.RenewalLinkExpired() from None
    except signing.BadSignature:
        raise errors.RenewalLinkInvalid() from None
    reminder = RenewalReminder.objects.filter(pk=payload.get("r"), card_id=payload.get("c")).first()
    if reminder is None:
        raise errors.RenewalLinkInvalid()
    return reminder


def renewal_link_confirm(*, token: str, actor: Any = None) -> Order:
    """One click: create and submit the renewal order for the card the link names. Works once.

    The use is claimed by a conditional UPDATE (``link_used_at IS NULL``) in the transaction that creates
    the order, so two clicks at once make one order; if the order is refused, the claim rolls back with it
    and the link can be used again once the problem is solved."""
    reminder = renewal_link_reminder(token=token)
    with transaction.atomic():
        claimed = RenewalReminder.objects.filter(pk=reminder.pk, link_used_at__isnull=True).update(
            link_used_at=timezone.now()
        )
        if not claimed:
            raise errors.RenewalLinkUsed()
        card = Card.objects.select_related("professional", "exercise").get(pk=reminder.card_id)
        if card.state != Card.State.ACTIVE:
            raise errors.RenewalRefused(_("This card is no longer active: it cannot be renewed."))
        order = _order_renewal_or_raise(card, actor)
        RenewalReminder.objects.filter(pk=reminder.pk).update(renewal_order_id=order.pk)
    return order


def _order_renewal_or_raise(card: Card, actor: Any) -> Order:
    creator = actor if _is_holder_of(actor, card) else order_services.system_user()
    try:
        return _place_renewal(card, creator)
    except DomainError as exc:
        raise errors.RenewalRefused(exc.message) from None


def _is_holder_of(actor: Any, card: Card) -> bool:
    account = account_of(actor)
    return account is not None and account.professional_id == card.professional_id


# --- automatic renewal policy --------------------------------------------------------------------------


def auto_renewal_set(*, actor: Any, profession_code: str, enabled: bool) -> AutoRenewalPolicy:
    """An Ordre's operator turns automatic renewal on or off for one of its professions."""
    profession = auto_renewal_profession(actor=actor, profession_code=profession_code)
    policy, _created = AutoRenewalPolicy.objects.update_or_create(
        authority_id=account_of(actor).authority_id,
        profession=profession,
        defaults={"enabled": enabled, "created_by": actor},
    )
    return policy


def auto_renewal_profession(*, actor: Any, profession_code: str) -> Profession:
    """The profession of the actor's Ordre whose automatic renewal they may choose, checked before anything
    they send is read: anyone but an Ordre's operator is not permitted (403); a profession their Ordre does
    not register is not found (404), as any path to an object outside one's scope."""
    account = account_of(actor)
    if account is None or account.role != Role.AUTHORITY_OPERATOR or account.authority_id is None:
        raise NotPermitted(_("Automatic renewal is chosen by an Ordre's operator."))
    code = profession_code if isinstance(profession_code, str) else ""
    found = None
    if PROFESSION_CODE.fullmatch(code):  # no NUL byte or overlong code ever reaches the database
        found = Profession.objects.filter(pk=code, authority_id=account.authority_id).first()
    if found is None:
        raise errors.ProfessionNotFound()
    return found


PROFESSION_CODE = re.compile(r"[0-9A-Za-z]{1,4}")


def auto_renewal_policies_for(actor: Any) -> QuerySet[AutoRenewalPolicy]:
    """The choices an actor may read: an Ordre's operator their own Ordre's, those who see everything (the
    auditor, the platform) all of them; for anyone else automatic renewal is none of their business."""
    account = account_of(actor)
    policies = AutoRenewalPolicy.objects.select_related("authority", "profession")
    policies = policies.order_by("authority__code", "profession_id")
    if account is not None and account.role in SEES_ALL:
        return policies
    if account is not None and account.role == Role.AUTHORITY_OPERATOR:
        return policies.filter(authority_id=account.authority_id)
    raise NotPermitted(_("Automatic renewal is an Ordre's choice."))
