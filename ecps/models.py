"""The e-CPS: a passkey (WebAuthn credential) on the holder's phone standing for one professional exercise,
how it is activated, and every sign-in made with it.

The law allows one physical card and one e-CPS per exercise at a time (CSS R.161-52): a database
constraint keeps at most one non-revoked e-CPS per exercise, so two concurrent activations cannot both
succeed. Its life follows the card's: opposition (loss of the phone) and striking off revoke it for good.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from cards.models import Card
from core.roles import role_in
from registry.models import Exercise, Professional

from .permissions import REINSTATES, REVOKES, SUSPENDS


class ECps(ConcurrentTransitionMixin, models.Model):
    """An e-CPS. Its state machine lives here; its transitions are fired only by ``ecps.services`` (through
    ``core.transitions.fire``, which writes the event row); who may fire each is ``ecps.permissions``."""

    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        REVOKED = "revoked", _("Revoked")

    # States in which an e-CPS counts as the exercise's one e-CPS (a revoked one makes room for a new one).
    LIVE_STATES = (State.ACTIVE, State.SUSPENDED)

    class Reason(models.TextChoices):
        LOST = "lost", _("Phone lost")
        STOLEN = "stolen", _("Phone stolen")
        HOLDER_INACTIVE = "holder_inactive", _("Holder struck off or inactive")
        EXERCISE_INACTIVE = "exercise_inactive", _("Exercise closed")
        CARD_OPPOSED = "card_opposed", _("Card of the exercise in opposition")

    class Method(models.TextChoices):
        CARD = "card", _("CPx card")
        CODES = "codes", _("Codes by e-mail and SMS")

    holder = models.ForeignKey(
        Professional, on_delete=models.PROTECT, related_name="ecps", verbose_name=_("holder")
    )
    exercise = models.ForeignKey(
        Exercise, on_delete=models.PROTECT, related_name="ecps", verbose_name=_("exercise")
    )
    state = FSMField(
        default=State.ACTIVE, choices=State.choices, protected=True, db_index=True, verbose_name=_("state")
    )
    activation_method = models.CharField(
        max_length=8, choices=Method.choices, verbose_name=_("activation method")
    )
    activated_with_card = models.ForeignKey(
        Card, null=True, blank=True, on_delete=models.PROTECT, related_name="ecps_activated"
    )
    # The WebAuthn credential: its id (base64url), COSE public key, signature counter and transports.
    credential_id = models.CharField(max_length=1400, unique=True)
    public_key = models.BinaryField()
    sign_count = models.PositiveBigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    user_handle = models.CharField(max_length=100)
    aaguid = models.CharField(max_length=36, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked at"))
    revocation_reason = models.CharField(max_length=20, choices=Reason.choices, blank=True)

    class Meta:
        verbose_name = "e-CPS"
        verbose_name_plural = "e-CPS"
        constraints = [
            models.UniqueConstraint(
                fields=["exercise"], condition=~Q(state="revoked"), name="ecps_one_live_per_exercise"
            ),
        ]

    def __str__(self) -> str:
        return f"e-CPS {self.pk} ({self.state})"

    # Transitions touch only their own fields (``fields`` of each in ecps.services).
    @transition(field=state, source=State.ACTIVE, target=State.SUSPENDED, permission=role_in(SUSPENDS))
    def suspend(self) -> None:
        pass

    @transition(field=state, source=State.SUSPENDED, target=State.ACTIVE, permission=role_in(REINSTATES))
    def reinstate(self) -> None:
        pass

    @transition(field=state, source=LIVE_STATES, target=State.REVOKED, permission=role_in(REVOKES))
    def revoke(self, reason: str) -> None:
        """Final: opposition (lost, stolen) or striking off (holder or exercise inactive)."""
        self.revoked_at = timezone.now()
        self.revocation_reason = reason


class ECpsEvent(models.Model):
    """One row per e-CPS change (activated, suspended, revoked...): its history."""

    ecps = models.ForeignKey(ECps, on_delete=models.CASCADE, related_name="events", verbose_name=_("e-CPS"))
    kind = models.CharField(max_length=24, verbose_name=_("kind"))
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True, verbose_name=_("at"))

    class Meta:
        verbose_name = _("e-CPS event")
        verbose_name_plural = _("e-CPS events")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.ecps_id} {self.kind}"


class Activation(models.Model):
    """One attempt to activate an e-CPS for an exercise: first a proof (the card signs a challenge, or the
    codes sent by e-mail and SMS), then a single-use activation code (shown as a QR code for 90 s) that
    opens the WebAuthn registration on the phone.

    Secrets are stored only as keyed hashes (HMAC with the platform's secret key): a 6-digit code is
    too short for a plain hash to hide it."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for the proof")
        PROVEN = "proven", _("Proven")
        ENROLLING = "enrolling", _("Enrolling")
        DONE = "done", pgettext_lazy("activation", "Done")
        FAILED = "failed", pgettext_lazy("activation", "Failed")

    holder = models.ForeignKey(Professional, on_delete=models.CASCADE, related_name="ecps_activations")
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="ecps_activations")
    method = models.CharField(max_length=8, choices=ECps.Method.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    card = models.ForeignKey(Card, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    challenge = models.CharField(max_length=120, blank=True)  # what the card signs (not a secret)
    email_code_hash = models.CharField(max_length=64, blank=True)
    sms_code_hash = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    expires_at = models.DateTimeField()
    proven_at = models.DateTimeField(null=True, blank=True)
    code_hash = models.CharField(max_length=64, blank=True, db_index=True)
    code_expires_at = models.DateTimeField(null=True, blank=True)
    code_used_at = models.DateTimeField(null=True, blank=True)
    registration_challenge = models.CharField(max_length=120, blank=True)
    user_handle = models.CharField(max_length=100, blank=True)
    ecps = models.OneToOneField(ECps, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    failure = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["holder", "created_at"])]

    def __str__(self) -> str:
        return f"activation {self.pk} ({self.method}, {self.state})"


class SignInEvent(models.Model):
    """The audit of every sign-in with an e-CPS at the provider: who, to which service, when, and how it
    ended (refusals included, with their reason)."""

    class Result(models.TextChoices):
        SUCCESS = "success", pgettext_lazy("sign-in", "Succeeded")
        REFUSED = "refused", pgettext_lazy("sign-in", "Refused")

    at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("at"))
    ecps = models.ForeignKey(ECps, null=True, blank=True, on_delete=models.SET_NULL, related_name="sign_ins")
    professional = models.ForeignKey(
        Professional,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ecps_sign_ins",
        verbose_name=_("professional"),
    )
    application = models.ForeignKey(
        "oauth2_provider.Application", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    client_id = models.CharField(max_length=100, blank=True, verbose_name=_("client id"))
    result = models.CharField(max_length=8, choices=Result.choices, verbose_name=_("result"))
    reason = models.CharField(max_length=40, blank=True, verbose_name=_("reason"))
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        verbose_name = _("sign-in")
        verbose_name_plural = _("sign-ins")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.professional_id} {self.result}"


class GrantBinding(models.Model):
    """Which e-CPS signed the holder in for an authorization code (kept until the code is exchanged), in
    which provider session (``sid``) and when (the passkey sign-in: the ID token's ``auth_time``)."""

    grant = models.OneToOneField("oauth2_provider.Grant", on_delete=models.CASCADE, related_name="+")
    ecps = models.ForeignKey(ECps, on_delete=models.CASCADE, related_name="+")
    sid = models.CharField(max_length=64, blank=True)
    auth_time = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"grant {self.grant_id} → e-CPS {self.ecps_id}"


class TokenBinding(models.Model):
    """Which e-CPS an access token stands for: introspection and userinfo check it is still usable."""

    access_token = models.OneToOneField(
        "oauth2_provider.AccessToken", on_delete=models.CASCADE, related_name="ecps_binding"
    )
    ecps = models.ForeignKey(ECps, on_delete=models.CASCADE, related_name="+")
    sid = models.CharField(max_length=64, blank=True)
    auth_time = models.DateTimeField(null=True, blank=True)
    # SHA-256 of the authorization code the token (or the refresh chain it belongs to) came from: a
    # replayed code revokes every token issued from it (RFC 6749 §4.1.2).
    code_hash = models.CharField(max_length=64, blank=True, db_index=True)

    def __str__(self) -> str:
        return f"token {self.access_token_id} → e-CPS {self.ecps_id}"


class Consent(models.Model):
    """What the holder allowed a relying party to receive with this e-CPS: an authorization with
    ``prompt=none`` is answered silently only within it (else ``consent_required``)."""

    ecps = models.ForeignKey(ECps, on_delete=models.CASCADE, related_name="consents")
    application = models.ForeignKey("oauth2_provider.Application", on_delete=models.CASCADE, related_name="+")
    scopes = models.CharField(max_length=255)
    granted_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ecps", "application"], name="ecps_one_consent_per_rp"),
        ]

    def __str__(self) -> str:
        return f"e-CPS {self.ecps_id} → {self.application_id}: {self.scopes}"


class ProviderSession(models.Model):
    """A relying party's session at the provider: the holder signed in there with this e-CPS in the
    browser session ``sid`` (the ID token's ``sid``). Ended when the holder signs out or the e-CPS is
    revoked, which sends the relying party a back-channel logout token."""

    sid = models.CharField(max_length=64)
    ecps = models.ForeignKey(ECps, on_delete=models.CASCADE, related_name="provider_sessions")
    application = models.ForeignKey("oauth2_provider.Application", on_delete=models.CASCADE, related_name="+")
    issuer = models.CharField(max_length=300)  # the ``iss`` of its ID tokens, for its logout token
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    logout_sent_at = models.DateTimeField(null=True, blank=True)
    logout_attempts = models.PositiveSmallIntegerField(default=0)
    logout_error = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sid", "application"], name="ecps_one_session_per_sid_rp"),
        ]

    def __str__(self) -> str:
        return f"session {self.sid[:8]} e-CPS {self.ecps_id} → {self.application_id}"


class RelyingPartyProfile(models.Model):
    """What the provider knows of an application beyond django-oauth-toolkit's columns: where it receives
    back-channel logout tokens, and whether it is a registered resource server (an API that may introspect
    any token; every other client introspects only its own)."""

    application = models.OneToOneField(
        "oauth2_provider.Application", on_delete=models.CASCADE, related_name="ecps_profile"
    )
    backchannel_logout_uri = models.URLField(max_length=500, blank=True)
    is_resource_server = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.application_id} (resource server: {self.is_resource_server})"
