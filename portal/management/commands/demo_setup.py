"""Prepare a demo platform that shows the product: a synthetic registry, the PKI, a reader station, an account
per role and per authority, a few hundred holders, and work in every queue.

Idempotent: run by `make run` at every start; it only creates what is missing (the scenario of orders and
cards runs once, on a platform that has no order yet). Everything goes through the services of each layer
(orders placed, reviewed, paid; cards personalized by the demo station with the signing service run in this
process, shipped, activated, opposed; reminders sent by the daily scan): no state is written by hand. Demo
data only: the contacts are fictitious (``demo.cpx.example``, mobiles in ARCEP's range for fiction).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Count, Q
from django.test.utils import override_settings
from django.utils import timezone

from cards import services as card_services
from cards.models import Card
from lifecycle import opposition as opposition_services
from lifecycle import renewal as renewal_services
from orders import payment_services
from orders import services as order_services
from orders.models import Order
from registry.models import Account, Authority, Exercise, Professional, Structure, StructureMember
from registry.routing import authority_for_exercise
from stations import personalization, signing_request, tokens
from stations import services as station_services
from stations.models import ReaderStation

DEMO_PASSWORD = "demo-cpx-2026"  # noqa: S105  (printed on the console: demo accounts only)
STATION = "demo"
CPS = "CPS"


@dataclass
class Plan:
    """The demo accounts printed at the end: who, and what to try first."""

    accounts: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, username: str, who: str, try_this: str = "") -> None:
        self.accounts.append((username, who, try_this))


class Command(BaseCommand):
    help = (
        "Load demo data (synthetic registry, PKI, station, accounts for every role and authority, holders, "
        "orders in every state, cards, oppositions) and print the accounts with what to try."
    )

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=5000, help="rows of the synthetic registry file")
        parser.add_argument("--holders", type=int, default=300, help="holders given a portal account")

    def handle(self, *args, rows: int, holders: int, **options):
        commands = get_commands()
        if not Professional.objects.exists():
            sample = Path(settings.VAR_DIR) / "demo" / "PS_LibreAcces_Personne_activite_demo.txt"
            sample.parent.mkdir(parents=True, exist_ok=True)
            call_command("make_registry_sample", rows=rows, out=str(sample), seed=2026)
            call_command("import_registry", str(sample))
        if "pki_init" in commands:
            call_command("pki_init")
        if "station_register" in commands:
            call_command("station_register", STATION, readers=2, blanks=20)
        demo = Demo(self.stdout.write)
        plan = demo.accounts(holders)
        station = ReaderStation.objects.filter(name=STATION).first()
        if not Order.objects.exists():
            demo.scenario(station)
        self.stdout.write(f"\nDemo accounts (password for all: {DEMO_PASSWORD}):")
        for username, who, try_this in plan.accounts:
            self.stdout.write(f"  {username:<16} {who}")
            if try_this:
                self.stdout.write(f"  {'':<16}   → {try_this}")
        self.stdout.write(
            f"  (and {demo.holder_accounts} holders ps.<RPPS or ADELI number>, e.g. {demo.example_holder})"
        )


class Demo:
    def __init__(self, write: Any) -> None:
        self.write = write
        self.users: dict[str, Any] = {}
        self.holder_accounts = 0
        self.example_holder = ""
        self.password = make_password(DEMO_PASSWORD)  # hashed once for every demo account
        self.used: set[int] = set()  # professionals the scenario already gave an order

    # --- accounts ----------------------------------------------------------------------------------

    def user(self, username: str, **defaults: Any) -> Any:
        user, created = get_user_model().objects.get_or_create(username=username, defaults=defaults)
        if created:
            user.password = self.password
            user.save(update_fields=["password"])
        self.users[username] = user
        return user

    def account(self, username: str, role: str, **links: Any) -> Any:
        user = self.user(username)
        Account.objects.update_or_create(user=user, defaults={"role": role, **links})
        return user

    @transaction.atomic
    def accounts(self, holders: int) -> Plan:
        plan = Plan()
        self.user("admin", is_staff=True, is_superuser=True, email="admin@cpx.example")
        plan.add("admin", "superuser (Django admin at /admin/)")
        doctor = self.cps_exercises(Q(profession_id="10", professional__rpps__isnull=False)).first()
        nurse = self.cps_exercises(Q(profession_id="60", professional__rpps__isnull=False)).first()
        if doctor:
            self.account("holder", Account.Role.HOLDER, professional=doctor.professional)
            plan.add("holder", f"holder, médecin — {doctor.professional}", "renew the card that expires soon")
        if nurse:
            self.account("holder.nurse", Account.Role.HOLDER, professional=nurse.professional)
            plan.add(
                "holder.nurse", f"holder, infirmier — {nurse.professional}", "activate the card just sent"
            )
        lost = self.cps_exercises(Q(profession_id="10", professional__rpps__isnull=False))[1:2].first()
        if lost:
            self.account("holder.lost", Account.Role.HOLDER, professional=lost.professional)
            plan.add("holder.lost", f"holder — {lost.professional}", "pay the replacement of the lost card")
        membership = self.structure_manager()
        if membership:
            self.account("manager", Account.Role.STRUCTURE_MANAGER, structure=membership.structure)
            plan.add(
                "manager",
                f"structure manager — {membership.structure}",
                "order a CPE for a staff member without a card",
            )
        for authority in Authority.objects.order_by("code"):
            if authority.code == "ANS":
                self.account("ans.operator", Account.Role.ANS_OPERATOR, authority=authority)
                plan.add(
                    "ans.operator",
                    f"ANS operator — {authority.name}",
                    "requeue the failed personalization, ship the produced card, import a registry file",
                )
            else:
                username = f"ordre.{authority.code.lower()}"
                self.account(username, Account.Role.AUTHORITY_OPERATOR, authority=authority)
                plan.add(username, f"Ordre operator — {authority.name}", "review the orders in the queue")
        self.account("auditor", Account.Role.AUDITOR)
        plan.add("auditor", "auditor (reads everything, changes nothing)", "read the audit log")
        self.holders(holders)
        return plan

    def cps_exercises(self, where: Q | None = None):
        """Active exercises of active people a CPS may be ordered for (registered, not a student)."""
        return (
            Exercise.objects.filter(where or Q(), is_active=True, professional__is_active=True)
            .filter(Q(professional__rpps__isnull=False) | Q(professional__adeli__isnull=False))
            .exclude(category_id="E")
            .select_related("professional", "profession")
            .order_by("professional__national_id", "id")
        )

    def holders(self, count: int) -> None:
        """Accounts for a realistic subset of the registry: every profession, in proportion, at least a few
        of each; each with an e-mail address and a mobile number (e-CPS activation by codes)."""
        chosen: list[Professional] = []
        seen: set[int] = set()
        by_profession: dict[str, list[Professional]] = {}
        for exercise in self.cps_exercises()[: count * 20]:
            people = by_profession.setdefault(exercise.profession_id, [])
            if exercise.professional_id not in seen and len(people) < count:
                people.append(exercise.professional)
                seen.add(exercise.professional_id)
        total = sum(len(people) for people in by_profession.values()) or 1
        for people in by_profession.values():
            chosen += people[: max(3, round(count * len(people) / total))]
        existing = set(
            Account.objects.filter(role=Account.Role.HOLDER).values_list("professional_id", flat=True)
        )
        user_model = get_user_model()
        new = [person for person in chosen if person.pk not in existing]
        users = user_model.objects.bulk_create(
            [user_model(username=f"ps.{person.national_id}", password=self.password) for person in new],
            ignore_conflicts=True,
        )
        by_name = {u.username: u for u in user_model.objects.filter(username__in=[u.username for u in users])}
        Account.objects.bulk_create(
            [
                Account(user=by_name[f"ps.{p.national_id}"], role=Account.Role.HOLDER, professional=p)
                for p in new
                if f"ps.{p.national_id}" in by_name
            ],
            ignore_conflicts=True,
        )
        holders = Professional.objects.filter(account__role=Account.Role.HOLDER)
        for number, person in enumerate(holders.filter(Q(email="") | Q(mobile="")).order_by("pk")):
            person.email = person.email or f"ps.{person.national_id}@demo.cpx.example"
            person.mobile = person.mobile or f"+3363998{number % 10000:04d}"
            person.save(update_fields=["email", "mobile"])
        self.holder_accounts = holders.count()
        sample = holders.exclude(account__user__username__in=self.users).order_by("pk").first()
        self.example_holder = f"ps.{sample.national_id}" if sample else ""

    def structure_manager(self) -> StructureMember | None:
        """The demo structure: its legal representative manages it, and it has staff (CPE), authorised
        personnel (CPA) from the registry's people."""
        managers = StructureMember.objects.filter(
            role__in=[StructureMember.Role.LEGAL_REPRESENTATIVE, StructureMember.Role.MANDATAIRE]
        ).select_related("structure")
        manager = managers.order_by("id").first()
        if manager is None:
            exercise = self.cps_exercises(Q(activities__structure__isnull=False)).first()
            if exercise is None:
                return None
            structure = Structure.objects.filter(activity__exercise=exercise).first()
            manager, _ = StructureMember.objects.get_or_create(
                structure=structure,
                professional=exercise.professional,
                role=StructureMember.Role.LEGAL_REPRESENTATIVE,
            )
        staff = StructureMember.objects.filter(structure=manager.structure).exclude(pk=manager.pk)
        if not staff.exists():
            people = Professional.objects.filter(is_active=True).exclude(pk=manager.professional_id)
            roles = [StructureMember.Role.STAFF] * 4 + [StructureMember.Role.AUTHORISED]
            for person, role in zip(people.order_by("-pk")[: len(roles)], roles, strict=False):
                StructureMember.objects.get_or_create(
                    structure=manager.structure, professional=person, role=role
                )
        return manager

    # --- the scenario: work in every queue ----------------------------------------------------------

    def scenario(self, station: ReaderStation | None) -> None:
        started = timezone.now()
        with override_settings(CPX_SIGNING_INLINE=True), transaction.atomic():
            self.queues()
            self.structure_orders()
            if station is not None and personalization_possible():
                station_services.blank_stock_add(station=station, count=30)
                self.cards(station)
            renewal_services.renewal_reminders_send()
        seconds = (timezone.now() - started).total_seconds()
        counts = dict(Order.objects.values_list("state").order_by("state").annotate(n=Count("id")))
        self.write(f"demo orders by state: {counts} ({seconds:.0f} s)")

    def operator(self, authority: Authority) -> Any:
        return self.users["ans.operator" if authority.code == "ANS" else f"ordre.{authority.code.lower()}"]

    def holder_user(self, person: Professional) -> Any:
        account = Account.objects.filter(professional=person, role=Account.Role.HOLDER).first()
        if account is None:
            account = Account.objects.create(
                user=self.user(f"ps.{person.national_id}"), role=Account.Role.HOLDER, professional=person
            )
            person.email = person.email or f"ps.{person.national_id}@demo.cpx.example"
            person.mobile = person.mobile or "+33639989999"
            person.save(update_fields=["email", "mobile"])
        return account.user

    def fresh(self, authority: Authority, count: int, where: Q | None = None) -> list[Exercise]:
        """Holders (with accounts first) whose orders go to ``authority`` and who have no order yet."""
        found: list[Exercise] = []
        with_account = Q(professional__account__role=Account.Role.HOLDER)
        for extra in (with_account, Q()):
            for exercise in self.cps_exercises((where or Q()) & extra).exclude(
                professional__orders__isnull=False
            ):
                if len(found) == count:
                    return found
                if exercise.professional_id in self.used:
                    continue
                if authority_for_exercise(exercise, exercise.professional).pk == authority.pk:
                    self.used.add(exercise.professional_id)
                    found.append(exercise)
                if len(found) == count:
                    return found
        return found

    def place(self, exercise: Exercise, *, submit: bool = True, card_type: str = CPS) -> Order:
        service = order_services.order_place if submit else order_services.order_create
        return service(
            actor=self.holder_user(exercise.professional),
            professional=exercise.professional,
            card_type=card_type,
            kind=Order.Kind.FIRST,
            exercise=exercise,
        )

    def queues(self) -> None:
        """In every authority's queue: orders to review, and drafts, rejections, cancellations, approved
        orders waiting for production."""
        for authority in Authority.objects.order_by("code"):
            professions = list(authority.profession_set.values_list("code", flat=True))
            where = Q(profession_id__in=professions, professional__rpps__isnull=False) if professions else Q()
            people = self.fresh(authority, 7, where)
            if len(people) < 7:
                self.write(f"demo: only {len(people)} holders for {authority.code}")
            operator = self.operator(authority)
            for position, exercise in enumerate(people):
                if position == 0:
                    self.place(exercise, submit=False)  # a draft the holder has not submitted
                elif position == 1:
                    order_services.order_cancel(
                        order=self.place(exercise, submit=False),
                        actor=self.holder_user(exercise.professional),
                        reason="demo: ordered by mistake",
                    )
                elif position == 2:
                    order_services.order_reject(
                        order=self.place(exercise),
                        actor=operator,
                        reason="Demo: the registration is not complete; send the missing certificate.",
                    )
                elif position == 3:
                    order_services.order_approve(order=self.place(exercise), actor=operator)  # → queued
                else:
                    self.place(exercise)  # submitted: waits for this authority's review

    def structure_orders(self) -> None:
        """The manager's structure: a CPE ordered for a staff member (in ANS's queue); others have none."""
        manager = Account.objects.filter(role=Account.Role.STRUCTURE_MANAGER).first()
        if manager is None or manager.structure is None:
            return
        member = manager.structure.members.filter(role=StructureMember.Role.STAFF, is_active=True).first()
        if member is None:
            return
        order_services.order_place(
            actor=manager.user,
            professional=member.professional,
            card_type="CPE",
            kind=Order.Kind.FIRST,
            structure=manager.structure,
        )

    def produce(self, station: ReaderStation, exercise: Exercise, *, days: int | None = None) -> Card:
        """A first card ordered, approved and personalized by the demo station; ``days``: a card whose
        validity (and its certificates') ends that many days from today, to show reminders and renewals."""
        order = self.place(exercise)
        order = order_services.order_approve(order=order, actor=self.operator(order.authority))
        if days is None:
            card = personalization.personalize_order(order_id=order.pk, station=station)
        else:
            ends = timezone.localdate() + dt.timedelta(days=days)
            with mock.patch.object(signing_request, "card_valid_until", lambda start, years: ends):
                card = personalization.personalize_order(order_id=order.pk, station=station)
        if card is None:
            raise RuntimeError(f"demo: order {order.pk} was not personalized")
        return card

    def deliver(self, card: Card, *, activate: bool = True) -> Card:
        ans = self.users["ans.operator"]
        card = card_services.card_ship(card=card, actor=ans, carrier="La Poste", tracking="DEMO")
        if activate:
            holder = self.holder_user(card.professional)
            card = card_services.card_activate(card=card, actor=holder, method="receipt (demo)")
        return card

    def cards(self, station: ReaderStation) -> None:
        cnom = Authority.objects.get(code="CNOM")
        oni = Authority.objects.get(code="ONI")
        ans = Authority.objects.get(code="ANS")
        named: dict[str, Exercise] = {}
        for name in ("holder", "holder.nurse", "holder.lost"):
            account = Account.objects.filter(user__username=name, professional__isnull=False).first()
            exercise = self.cps_exercises(Q(professional=account.professional)).first() if account else None
            if exercise is not None:
                named[name] = exercise
                self.used.add(exercise.professional_id)
        # Cards near expiry: the renewal reminders (90 and 30 days) and the renewal they offer.
        if named.get("holder"):
            self.deliver(self.produce(station, named["holder"], days=60))
        for exercise, days in zip(self.fresh(cnom, 2, Q(profession_id="10")), (25, 85), strict=False):
            self.deliver(self.produce(station, exercise, days=days))
        # A card just sent: its holder activates it.
        if named.get("holder.nurse"):
            self.deliver(self.produce(station, named["holder.nurse"]), activate=False)
        # A card produced, waiting to be shipped by ANS.
        for exercise in self.fresh(ans, 1):
            self.produce(station, exercise)
        # Oppositions: a lost card (its replacement approved, waiting for payment), a stolen one (the
        # replacement waits for the Ordre's review), a card not received (free replacement).
        if named.get("holder.lost"):
            lost = self.deliver(self.produce(station, named["holder.lost"]))
            opposed = opposition_services.card_declare_opposition(
                card=lost, reason="lost", actor=self.holder_user(lost.professional), channel="online"
            )
            replacement = (
                getattr(opposed, "replacement", None)
                or lost.professional.orders.filter(kind=Order.Kind.REPLACEMENT).first()
            )
            if replacement is not None and replacement.state == Order.State.SUBMITTED:
                order_services.order_approve(order=replacement, actor=self.operator(replacement.authority))
        for exercise in self.fresh(oni, 1):
            stolen = self.deliver(self.produce(station, exercise))
            opposition_services.card_declare_opposition(
                card=stolen, reason="stolen", actor=self.users["ordre.oni"], channel="phone"
            )
        # A paid replacement (bank transfer recorded by ANS): paid, then queued for production.
        for exercise in self.fresh(ans, 1):
            damaged = self.deliver(self.produce(station, exercise))
            opposition_services.card_declare_opposition(
                card=damaged, reason="damaged", actor=self.holder_user(damaged.professional), channel="online"
            )
            order = damaged.professional.orders.filter(kind=Order.Kind.REPLACEMENT).first()
            if order is not None:
                order = order_services.order_approve(order=order, actor=self.users["ans.operator"])
                if order.fee is not None:
                    payment_services.payment_record(
                        order=order,
                        actor=self.users["ans.operator"],
                        method="transfer",
                        reference=f"VIR-DEMO-{order.pk}",
                        amount=order.fee,
                    )
        # A personalization that failed on every try: the order waits in `failed` for ANS.
        for exercise in self.fresh(ans, 1):
            order = order_services.order_approve(order=self.place(exercise), actor=self.users["ans.operator"])
            failure = tokens.TokenError("demo: the blank card did not answer")
            with mock.patch.object(tokens, "initialize_token", side_effect=failure):
                for _attempt in range(settings.CPX_MAX_PRODUCTION_FAILURES):
                    personalization.personalize_order(order_id=order.pk, station=station)
        # An order taken by the station (in production).
        queued = Order.objects.filter(state=Order.State.QUEUED, kind=Order.Kind.FIRST).order_by("pk").first()
        if queued is not None:
            order_services.order_start_production(order=queued)


def personalization_possible() -> bool:
    """The demo station's readers are SoftHSM2 stores: without its module no card can be produced."""
    return Path(settings.CPX_PKCS11_MODULE).exists()
