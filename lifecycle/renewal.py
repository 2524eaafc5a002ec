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

Renewal by policy (issue 16). Before the reminders, a daily set-based step (``renewal_orders``)
places the renewal of every active card expiring within ``CPX_RENEWAL_ORDER_DAYS`` (longer than the first
reminder's window) that its authority's issuance policy renews (``lifecycle.IssuancePolicy``, trigger
``renewal``): automatic (approved at once or not) or proposed (a draft the holder confirms), through
``orders.bulk.orders_place_bulk``, one statement whatever the number. So when the first reminder comes,
the renewal is under way: the reminder says so, links to the order and carries a second link, to decline
(the holder leaving practice: ``renewal_decline``). The platform places a card's renewal once: a declined
(cancelled) or rejected one is not placed again, nor one for a card whose holder declined.
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
from orders.errors import OrderNotFound
from orders.models import Order
from orders.scoping import orders_visible_to
from registry.models import CardType, Profession

from . import errors
from .models import AutoRenewalPolicy, IssuancePolicy, RenewalReminder
from .renewal_orders import renewal_orders_place

log = logging.getLogger(__name__)

LINK_SALT = "cpx.lifecycle.renewal-link"
DECLINE_SALT = "cpx.lifecycle.renewal-decline"

SCAN_SQL = """
INSERT INTO lifecycle_renewalreminder (card_id, threshold, sent_at, automatic)
SELECT c.id, %(threshold)s, %(now)s, false
  FROM cards_card c
 WHERE c.state = 'active'
   AND c.valid_until > %(after)s
   AND c.valid_until <= %(until)s
   AND NOT EXISTS (SELECT 1 FROM lifecycle_renewalreminder r
                    WHERE r.card_id = c.id AND r.threshold = %(threshold)s)
   AND NOT EXISTS (SELECT 1 FROM lifecycle_renewalreminder d
                    WHERE d.card_id = c.id AND d.declined_at IS NOT NULL)
   AND NOT EXISTS (SELECT 1 FROM orders_order o
                    WHERE o.replaces_id = c.id AND o.state = ANY(%(under_way)s)
                      AND NOT (%(tell_automatic)s AND o.origin = 'automatic' AND o.kind = 'renewal'))
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
    """The daily scan: send each due reminder once. Returns how many went out per threshold.

    The renewals the policies order are placed first (``renewal_orders_place``, idempotent), so that a
    reminder whose card the policy renews says the renewal is under way."""
    today = today or timezone.localdate()
    chunk = chunk or settings.CPX_RENEWAL_SCAN_CHUNK
    renewal_orders_place(today=today)
    _url_template.cache_clear()
    sent: dict[int, int] = {}
    for threshold, after, until in renewal_windows(today):
        sent[threshold] = 0
        while True:
            count = _remind_chunk(threshold, after, until, chunk)
            sent[threshold] += count
            if count < chunk:
                break
    return sent


def _remind_chunk(threshold: int, after: dt.date, until: dt.date, chunk: int) -> int:
    first = threshold == settings.CPX_REMINDER_FIRST_DAYS
    params: dict[str, Any] = {"threshold": threshold, "now": timezone.now(), "chunk": chunk}
    params.update(after=after, until=until, under_way=list(Order.OPEN_STATES), tell_automatic=first)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(SCAN_SQL, params)
            ids = [row[0] for row in cursor.fetchall()]
        reminders = RenewalReminder.objects.filter(pk__in=ids).select_related(
            "card__professional", "card__exercise__profession"
        )
        renewals = _automatic_renewals([r.card_id for r in reminders]) if first and ids else {}
        for reminder in reminders.order_by("pk"):
            _remind(reminder, renewals.get(reminder.card_id))
    return len(ids)


def _automatic_renewals(card_ids: list[int]) -> dict[int, int]:
    """card id -> its automatic renewal order under way (one query for a chunk)."""
    rows = Order.objects.filter(
        replaces_id__in=card_ids,
        origin=Order.Origin.AUTOMATIC,
        kind=Order.Kind.RENEWAL,
        state__in=Order.OPEN_STATES,
    ).values_list("replaces_id", "pk")
    return dict(rows)


def _remind(reminder: RenewalReminder, order_id: int | None) -> None:
    card = reminder.card
    url = renewal_link_url(reminder)
    if order_id is not None:
        reminder.automatic, reminder.renewal_order_id = True, order_id
        reminder.link_used_at = reminder.sent_at  # the renewal is under way: the link has no use
        reminder.save(update_fields=["automatic", "renewal_order_id", "link_used_at"])
        url = _absolute(("portal:order",), order_id)
    notify(
        recipient=card.professional,
        event=Event.RENEWAL_DUE,
        context={
            "card_number": card.display_number,
            "card_type": card.card_type,
            "expires_on": card.valid_until.isoformat(),
            "renewal_url": url,
            "automatic": reminder.automatic,
            "decline_url": renewal_decline_url(reminder),
        },
        dedup_key=f"renewal_due:{card.pk}:{reminder.threshold}",
    )


def _place_renewal(card: Card, actor: Any) -> Order:
    with transaction.atomic():  # a savepoint: a refused order leaves nothing behind
        proposal = _proposal_for(card)
        if proposal is not None:  # the policy proposed it: confirming the link submits that draft
            return order_services.order_submit(order=proposal, actor=actor)
        return order_services.order_place(
            actor=actor,
            professional=card.professional,
            card_type=card.card_type,
            kind=Order.Kind.RENEWAL,
            exercise=card.exercise,
            structure=card.structure,
            replaces=card,
        )


def _proposal_for(card: Card) -> Order | None:
    return (
        Order.objects.filter(
            replaces=card, kind=Order.Kind.RENEWAL, origin=Order.Origin.PROPOSED, state=Order.State.DRAFT
        )
        .order_by("pk")
        .first()
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


# --- declining the renewal (issue 16: the holder leaving practice) ----------------------------------------

# The reason recorded on the cancelled order (the history is the platform's, in its language).
DECLINE_REASON = "renewal declined by the holder (leaving practice)"


def renewal_decline_token(reminder: RenewalReminder) -> str:
    """A signed, timestamped token naming the reminder, for the decline link (its own salt: a renewal
    link's token does not decline, nor the reverse)."""
    return signing.TimestampSigner(salt=DECLINE_SALT).sign_object({"r": reminder.pk, "c": reminder.card_id})


def renewal_decline_url(reminder: RenewalReminder) -> str:
    """The reminder's second link: the portal's decline page, the token after ``#`` (as the renewal link:
    the page's script posts it, no access log has it)."""
    return f"{_url_template(('portal:renew-decline',))}#{renewal_decline_token(reminder)}"


def renewal_decline_reminder(*, token: str) -> RenewalReminder:
    """The reminder a decline link names, if the signature holds and the link has not expired."""
    max_age = dt.timedelta(days=settings.CPX_RENEWAL_LINK_MAX_AGE_DAYS)
    try:
        payload = signing.TimestampSigner(salt=DECLINE_SALT).unsign_object(token, max_age=max_age)
    except signing.SignatureExpired:
        message = _("This link has expired; you can still cancel the renewal from your order's page.")
        raise errors.RenewalLinkExpired(message) from None
    except signing.BadSignature:
        raise errors.RenewalLinkInvalid() from None
    if not isinstance(payload, dict) or not isinstance(payload.get("r"), int):
        raise errors.RenewalLinkInvalid()
    reminder = RenewalReminder.objects.filter(pk=payload["r"], card_id=payload.get("c") or 0).first()
    if reminder is None:
        raise errors.RenewalLinkInvalid()
    return reminder


def renewal_decline(*, token: str, actor: Any = None) -> RenewalReminder:
    """The holder declines the renewal from the reminder's link: the renewal the platform placed is
    cancelled, no other is placed nor reminded, and the holder is told. Works once.

    The use is claimed by a conditional UPDATE (``declined_at IS NULL``) in the transaction that cancels
    the order, so two clicks at once decline once; if the renewal can no longer be cancelled (its card is
    being made), the claim rolls back with the refusal."""
    reminder = renewal_decline_reminder(token=token)
    holder_id = Card.objects.filter(pk=reminder.card_id).values_list("professional_id", flat=True).first()
    account = account_of(actor)
    if account is None or account.professional_id != holder_id:
        # Declining stops a card being made: only its holder may, signed in (a forwarded link is no use).
        raise errors.RenewalLinkInvalid()
    with transaction.atomic():
        claimed = RenewalReminder.objects.filter(pk=reminder.pk, declined_at__isnull=True).update(
            declined_at=timezone.now()
        )
        if not claimed:
            raise errors.RenewalLinkUsed(_("This renewal has already been declined."))
        card = Card.objects.select_related("professional").get(pk=reminder.card_id)
        _decline(card, actor)
    reminder.refresh_from_db()
    return reminder


def renewal_decline_order(*, order: Order | int, actor: Any) -> Order:
    """The same from the holder's order page: the holder declines the renewal the platform placed for
    them (``renewal_declinable``). The card's reminders record it, so none is sent after."""
    pk = order if isinstance(order, int) else order.pk
    with transaction.atomic():
        found = orders_visible_to(actor).select_related("replaces__professional")
        locked = found.select_for_update(of=("self",)).filter(pk=pk).first()
        if locked is None:
            raise OrderNotFound()
        if not renewal_declinable(locked, actor):
            raise errors.RenewalRefused(_("Only the holder declines a renewal the platform placed."))
        card = locked.replaces
        assert card is not None
        now = timezone.now()
        marked = RenewalReminder.objects.filter(card=card, declined_at__isnull=True).update(declined_at=now)
        if not marked and not RenewalReminder.objects.filter(card=card).exists():
            # No reminder yet: this row stands for the first one, which the holder no longer needs.
            RenewalReminder.objects.create(
                card=card,
                threshold=settings.CPX_REMINDER_FIRST_DAYS,
                automatic=True,
                link_used_at=now,
                declined_at=now,
                renewal_order=locked,
            )
        _decline(card, actor)
    return Order.objects.get(pk=pk)


def renewal_declinable(order: Order, actor: Any) -> bool:
    """May ``actor`` decline this order as its holder? A renewal the platform placed (automatic or
    proposed), not yet in production, seen by its own holder."""
    return (
        order.kind == Order.Kind.RENEWAL
        and order.origin in (Order.Origin.AUTOMATIC, Order.Origin.PROPOSED)
        and order.replaces_id is not None
        and order.state in Order.CANCELLABLE_STATES
        and _is_holder_of(actor, order.replaces)  # type: ignore[arg-type]
    )


def _decline(card: Card, actor: Any) -> None:
    """Cancel the renewals the platform placed for ``card`` (normally one) and tell the holder; call inside
    the transaction that records the decline."""
    canceller = actor if _is_holder_of(actor, card) else order_services.system_user()
    placed = Order.objects.filter(
        replaces=card,
        kind=Order.Kind.RENEWAL,
        origin__in=(Order.Origin.AUTOMATIC, Order.Origin.PROPOSED),
        state__in=Order.OPEN_STATES + (Order.State.DRAFT,),
    )
    for order in placed.order_by("pk"):
        if order.state not in Order.CANCELLABLE_STATES:
            raise errors.RenewalRefused(
                _("Your new card is already being made: the renewal can no longer be declined.")
            )
        order_services.order_cancel(order=order.pk, actor=canceller, reason=DECLINE_REASON)
    notify(
        recipient=card.professional,
        event=Event.RENEWAL_DECLINED,
        context={
            "card_number": card.display_number,
            "card_type": card.card_type,
            "expires_on": card.valid_until.isoformat(),
        },
        dedup_key=f"renewal_declined:{card.pk}",
    )


# --- automatic renewal policy --------------------------------------------------------------------------


def auto_renewal_set(*, actor: Any, profession_code: str, enabled: bool) -> AutoRenewalPolicy:
    """An Ordre's operator turns automatic renewal on or off for one of its professions."""
    profession = auto_renewal_profession(actor=actor, profession_code=profession_code)
    authority_id = account_of(actor).authority_id
    with transaction.atomic():
        policy, _created = AutoRenewalPolicy.objects.update_or_create(
            authority_id=authority_id,
            profession=profession,
            defaults={"enabled": enabled, "created_by": actor},
        )
        # What decides since issue 16: the profession's own renewal policy. On: the renewal is ordered
        # (and goes to the Ordre's queue, unless the Ordre already chose to approve it at once); off: the
        # holder renews from the reminder's link.
        mode = IssuancePolicy.Mode.AUTOMATIC if enabled else IssuancePolicy.Mode.OFF
        IssuancePolicy.objects.update_or_create(
            authority_id=authority_id,
            card_type=CardType.CPS,
            trigger=IssuancePolicy.Trigger.RENEWAL,
            profession=profession,
            defaults={"mode": mode, "updated_by": actor},
            create_defaults={"mode": mode, "approve": False, "updated_by": actor},
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
