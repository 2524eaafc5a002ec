"""The registry of who may hold a card: professionals, their exercises and activities, structures,
the authorities that register them, and the code tables of the national nomenclatures.

The registry mirrors the official extraction files (RPPS, ADELI). A professional is identified by their
national identifier (``8`` + RPPS, ``0`` + ADELI, or the structure-based form ``3`` + FINESS / ``5`` + SIRET
followed by an internal number for a structure's staff). Nothing is ever deleted: a holder who leaves the
registry is marked inactive, with the date, so orders and cards keep their history.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.roles import Role


class Authority(models.Model):
    """An Ordre, or ANS: who reviews the card orders of the professions it registers."""

    class Kind(models.TextChoices):
        ORDRE = "ordre", "Ordre"
        ANS = "ans", "ANS"

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # The authority's policy for the cards it is responsible for: may a holder activate a card by confirming
    # its receipt, without proving they hold it (a challenge signed with the card)? Off unless decided.
    allow_receipt_confirmation = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "authorities"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Profession(models.Model):
    """TRE_G15. ``authority`` is the Ordre that registers the profession, or null for ADELI professions."""

    code = models.CharField(max_length=4, primary_key=True)
    label = models.CharField(max_length=120)
    authority = models.ForeignKey(Authority, null=True, blank=True, on_delete=models.PROTECT)
    deprecated = models.BooleanField(default=False)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.label}"


class ExerciseMode(models.Model):
    """TRE_R23: libéral, salarié, bénévole, indirect."""

    code = models.CharField(max_length=4, primary_key=True)
    label = models.CharField(max_length=120)

    def __str__(self) -> str:
        return self.label


class ProfessionalCategory(models.Model):
    """TRE_R09: civil, étudiant (CPF), agent public; F is deprecated but still read."""

    code = models.CharField(max_length=4, primary_key=True)
    label = models.CharField(max_length=120)
    deprecated = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "professional categories"

    def __str__(self) -> str:
        return self.label


class SkillType(models.Model):
    """TRE_R04: type de savoir-faire (spécialité ordinale, compétence exclusive, DNQ, ...)."""

    code = models.CharField(max_length=8, primary_key=True)
    label = models.CharField(max_length=120)

    def __str__(self) -> str:
        return self.label


class Skill(models.Model):
    """TRE_R38 and friends: a savoir-faire (specialty). Open-ended, so learnt from the imports."""

    code = models.CharField(max_length=16, primary_key=True)
    label = models.CharField(max_length=200)
    skill_type = models.ForeignKey(SkillType, null=True, blank=True, on_delete=models.PROTECT)

    def __str__(self) -> str:
        return f"{self.code} {self.label}"


class Structure(models.Model):
    """A site where professionals exercise, keyed by its technical structure id (column 24)."""

    technical_id = models.CharField(max_length=32, unique=True)
    siret = models.CharField(max_length=14, blank=True, db_index=True)
    siren = models.CharField(max_length=9, blank=True)
    finess_site = models.CharField(max_length=9, blank=True, db_index=True)
    finess_legal = models.CharField(max_length=9, blank=True)
    name = models.CharField(max_length=200, blank=True)
    trade_name = models.CharField(max_length=200, blank=True)
    address_recipient = models.CharField(max_length=200, blank=True)
    address_place = models.CharField(max_length=200, blank=True)
    street_number = models.CharField(max_length=16, blank=True)
    street_repetition = models.CharField(max_length=8, blank=True)
    street_type = models.CharField(max_length=16, blank=True)
    street_name = models.CharField(max_length=200, blank=True)
    distribution = models.CharField(max_length=200, blank=True)
    cedex = models.CharField(max_length=100, blank=True)
    postcode = models.CharField(max_length=10, blank=True)
    commune_code = models.CharField(max_length=10, blank=True)
    commune = models.CharField(max_length=100, blank=True)
    country_code = models.CharField(max_length=10, blank=True)
    country = models.CharField(max_length=100, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    phone2 = models.CharField(max_length=32, blank=True)
    fax = models.CharField(max_length=32, blank=True)
    email = models.CharField(max_length=254, blank=True)
    department_code = models.CharField(max_length=4, blank=True)
    department = models.CharField(max_length=100, blank=True)
    former_id = models.CharField(max_length=32, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name or self.technical_id

    @property
    def address_lines(self) -> list[str]:
        street = " ".join(
            p for p in [self.street_number, self.street_repetition, self.street_type, self.street_name] if p
        )
        lines = [self.address_recipient, self.address_place, street, self.distribution]
        lines.append(" ".join(p for p in [self.postcode, self.cedex or self.commune] if p))
        return [line for line in lines if line]


class Professional(models.Model):
    """A person in the registry, identified by their national identifier (idNatPs)."""

    class IdType(models.TextChoices):
        ADELI = "0", "ADELI"
        FINESS = "3", "FINESS"
        SIREN = "4", "SIREN"
        SIRET = "5", "SIRET"
        CABINET = "6", _("RPPS practice")
        RPPS = "8", "RPPS"

    national_id = models.CharField(max_length=32, unique=True)
    id_type = models.CharField(max_length=1, choices=IdType.choices)
    rpps = models.CharField(max_length=11, null=True, blank=True, unique=True)
    adeli = models.CharField(max_length=9, null=True, blank=True, unique=True)
    exercise_civility_code = models.CharField(max_length=8, blank=True)
    exercise_civility = models.CharField(max_length=60, blank=True)
    civility_code = models.CharField(max_length=8, blank=True)
    civility = models.CharField(max_length=60, blank=True)
    last_name = models.CharField(max_length=120)
    first_name = models.CharField(max_length=120, blank=True)
    email = models.EmailField(blank=True)
    mobile = models.CharField(max_length=32, blank=True)
    is_active = models.BooleanField(default=True)
    first_seen = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    deactivation_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["last_name", "first_name"]),
        ]

    def __str__(self) -> str:
        return f"{self.national_id} {self.last_name} {self.first_name}".strip()

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Exercise(models.Model):
    """One professional exercise: a profession practised by a person (one card per exercise)."""

    professional = models.ForeignKey(Professional, on_delete=models.CASCADE, related_name="exercises")
    profession = models.ForeignKey(Profession, on_delete=models.PROTECT)
    category = models.ForeignKey(ProfessionalCategory, null=True, blank=True, on_delete=models.PROTECT)
    skill = models.ForeignKey(Skill, null=True, blank=True, on_delete=models.PROTECT)
    pharmacist_section_code = models.CharField(max_length=8, blank=True)
    pharmacist_section = models.CharField(max_length=120, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["professional", "profession"], name="exercise_unique_profession"),
        ]

    def __str__(self) -> str:
        return f"{self.professional.national_id} / {self.profession_id}"


class Activity(models.Model):
    """A situation: where and how an exercise is practised (one row of the extraction file)."""

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="activities")
    structure = models.ForeignKey(Structure, null=True, blank=True, on_delete=models.PROTECT)
    mode = models.ForeignKey(ExerciseMode, null=True, blank=True, on_delete=models.PROTECT)
    # The identity of the activity within its exercise, as read from the file (mode + structure keys),
    # so a re-import recognises the same activity.
    activity_key = models.CharField(max_length=200)
    registration_authority = models.CharField(max_length=60, blank=True)
    sector_code = models.CharField(max_length=16, blank=True)
    sector = models.CharField(max_length=120, blank=True)
    role_code = models.CharField(max_length=16, blank=True)
    role = models.CharField(max_length=120, blank=True)
    genre_code = models.CharField(max_length=16, blank=True)
    genre = models.CharField(max_length=120, blank=True)
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "activities"
        constraints = [
            models.UniqueConstraint(fields=["exercise", "activity_key"], name="activity_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.exercise_id}:{self.activity_key}"


class StructureMember(models.Model):
    """A structure's staff member (CPE/CPA holders) or its legal representative / mandataire (CDE)."""

    class Role(models.TextChoices):
        STAFF = "staff", _("Establishment staff")
        AUTHORISED = "authorised", _("Authorised staff")
        LEGAL_REPRESENTATIVE = "legal_representative", _("Legal representative")
        MANDATAIRE = "mandataire", _("Authorised agent")

    structure = models.ForeignKey(Structure, on_delete=models.CASCADE, related_name="members")
    professional = models.ForeignKey(Professional, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=24, choices=Role.choices)
    is_active = models.BooleanField(default=True)
    # Declared by the structure's manager (``registry.staff``); empty for members known from elsewhere.
    job_title = models.CharField(max_length=120, blank=True)
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    declared_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["structure", "professional", "role"], name="member_unique_role"),
        ]

    def __str__(self) -> str:
        return f"{self.professional_id} {self.role} of {self.structure_id}"


class Account(models.Model):
    """What a signed-in user is on the platform, and so what they may see and do.

    Scoping of every object (orders, cards, people) is derived from this row, in one place.
    """

    Role = Role  # core.roles: the choices, and the named sets of them the rules use

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account")
    role = models.CharField(max_length=24, choices=Role.choices)
    professional = models.ForeignKey(Professional, null=True, blank=True, on_delete=models.PROTECT)
    structure = models.ForeignKey(Structure, null=True, blank=True, on_delete=models.PROTECT)
    authority = models.ForeignKey(Authority, null=True, blank=True, on_delete=models.PROTECT)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="account_role_fits",
                condition=(
                    Q(role="holder", professional__isnull=False)
                    | Q(role="structure_manager", structure__isnull=False)
                    | Q(role="authority_operator", authority__isnull=False)
                    | Q(role__in=["ans_operator", "auditor", "system"])
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"


class IntegratorClient(models.Model):
    """An OAuth 2.0 client (client credentials, RFC 6749 §4.4) through which a program acts as ``account``
    on the platform API (core.auth): same role, same authority, same scoping. Created and revoked in the
    admin (registry.integrators); its secret is shown once and stored hashed."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="integrator_clients")
    application = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="integrator"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("integrator client")
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.application.name} ({self.account})"


class RegistryImport(models.Model):
    """One run of import_registry: what it read, what it did, where its reject report is."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", pgettext_lazy("registry import", "Done")
        REFUSED = "refused", pgettext_lazy("registry import", "Refused")

    file_name = models.CharField(max_length=500)
    file_sha256 = models.CharField(max_length=64, db_index=True)
    kind = models.CharField(max_length=20, default="extraction")  # extraction | correspondence
    full = models.BooleanField(default=False)
    encoding = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_read = models.PositiveIntegerField(default=0)
    imported = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    deactivated = models.PositiveIntegerField(default=0)
    reject_report = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.status})"


class CardType(models.TextChoices):
    """The physical card types (DOMAIN §1), shared by orders and cards."""

    CPS = "CPS", _("Health Professional Card")
    CPF = "CPF", _("Professional in Training Card")
    CPE = "CPE", _("Establishment Staff Card")
    CPA = "CPA", _("Authorised Staff Card")
    CDE = "CDE", _("Establishment Director Card")


class ExtractionDigest(models.Model):
    """What the last extraction import merged for one national identifier: how many rows and a digest of
    their text (``registry.digests``). A person whose rows in the next file are the same is skipped."""

    national_id = models.CharField(max_length=32, primary_key=True)
    lines = models.PositiveIntegerField()
    digest = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.national_id}: {self.lines} rows"


class ExtractionDigestState(models.Model):
    """One row: the registry write epoch (sequence ``registry_digest_epoch``, advanced at the commit of any
    write to the merged columns outside an import) at which the digests were recorded; NULL: not valid."""

    epoch = models.BigIntegerField(null=True)

    def __str__(self) -> str:
        return f"digests at epoch {self.epoch}"
