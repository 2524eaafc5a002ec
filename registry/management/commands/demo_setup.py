"""Prepare a demo platform: a synthetic registry, the PKI, a reader station, and an account per role.

Idempotent: run by `make run` at every start; it only creates what is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand
from django.db import transaction

from registry.models import Account, Activity, Authority, Professional, StructureMember

DEMO_PASSWORD = "demo-cpx-2026"  # noqa: S105  (printed on the console: demo accounts only)


class Command(BaseCommand):
    help = "Load demo data (synthetic registry, PKI, station, one account per role) and print the accounts."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=5000, help="rows of the synthetic registry file")

    def handle(self, *args, rows: int, **options):
        commands = get_commands()
        if not Professional.objects.exists():
            sample = Path(settings.VAR_DIR) / "demo" / "PS_LibreAcces_Personne_activite_demo.txt"
            sample.parent.mkdir(parents=True, exist_ok=True)
            call_command("make_registry_sample", rows=rows, out=str(sample), seed=2026)
            call_command("import_registry", str(sample))
        if "pki_init" in commands:
            call_command("pki_init")
        if "station_register" in commands:
            call_command("station_register", "demo", readers=2, blanks=20)
        accounts = self.create_accounts()
        self.stdout.write(f"\nDemo accounts (password for all: {DEMO_PASSWORD}):")
        for username, description in accounts:
            self.stdout.write(f"  {username:<22} {description}")

    def structure_representative(self) -> StructureMember | None:
        """The demo structure manager: a legal representative (one is named if the registry has none)."""
        managers = StructureMember.objects.filter(
            role__in=[StructureMember.Role.LEGAL_REPRESENTATIVE, StructureMember.Role.MANDATAIRE]
        )
        if not managers.exists():
            activity = (
                Activity.objects.filter(structure__isnull=False, exercise__professional__is_active=True)
                .select_related("structure", "exercise__professional")
                .order_by("id")
                .first()
            )
            if activity is None:
                return None
            StructureMember.objects.get_or_create(
                structure=activity.structure,
                professional=activity.exercise.professional,
                role=StructureMember.Role.LEGAL_REPRESENTATIVE,
            )
        return managers.select_related("structure").first()

    @transaction.atomic
    def create_accounts(self) -> list[tuple[str, str]]:
        user_model = get_user_model()
        admin, created = user_model.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True, "email": "admin@cpx.example"}
        )
        if created:
            admin.set_password(DEMO_PASSWORD)
            admin.save()
        result = [("admin", "superuser (Django admin at /admin/)")]
        doctor = (
            Professional.objects.filter(is_active=True, rpps__isnull=False, exercises__profession_id="10")
            .order_by("national_id")
            .first()
        )
        manager_membership = self.structure_representative()
        plans: list[tuple[str, str, dict[str, Any]]] = [
            (
                "ordre.cnom",
                Account.Role.AUTHORITY_OPERATOR,
                {"authority": Authority.objects.get(code="CNOM")},
            ),
            ("ordre.oni", Account.Role.AUTHORITY_OPERATOR, {"authority": Authority.objects.get(code="ONI")}),
            ("ans.operator", Account.Role.ANS_OPERATOR, {"authority": Authority.objects.get(code="ANS")}),
            ("auditor", Account.Role.AUDITOR, {}),
        ]
        if doctor:
            plans.insert(0, ("holder", Account.Role.HOLDER, {"professional": doctor}))
        if manager_membership:
            plans.insert(
                1, ("manager", Account.Role.STRUCTURE_MANAGER, {"structure": manager_membership.structure})
            )
        for username, role, links in plans:
            user, created = user_model.objects.get_or_create(username=username)
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            Account.objects.update_or_create(user=user, defaults={"role": role, **links})
            target = next(iter(links.values()), None)
            result.append((username, f"{Account.Role(role).label}" + (f" — {target}" if target else "")))
        return result
