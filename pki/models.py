"""The platform's PKI: its certification authorities and the card certificates they issued."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class CertificateAuthority(models.Model):
    """A CA of the platform's PKI. Its private key never leaves its PKCS#11 token (``pki.hsm``): ``key_label``
    names the key object on the token of ``token_role`` ("root" for the root, "ca" for issuing CAs). The
    CRLs it publishes are ``Crl`` rows; base and delta CRLs share one number sequence (RFC 5280 §5.2.4)."""

    class TokenRole(models.TextChoices):
        ROOT = "root", _("Root (offline)")
        CA = "ca", _("Issuing CA (signing service)")

    slug = models.SlugField(max_length=40, unique=True, verbose_name=_("slug"))  # /pki/crl/<slug>.crl
    name = models.CharField(max_length=200, verbose_name=_("name"))
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    der = models.BinaryField()
    token_role = models.CharField(
        max_length=4, choices=TokenRole.choices, default=TokenRole.CA, verbose_name=_("token role")
    )
    key_label = models.CharField(max_length=64)
    algorithm = models.CharField(max_length=16, verbose_name=_("algorithm"))  # pki.keys.ALGORITHMS
    # The card types whose certificates this CA issues (issuing CAs; empty for the root).
    card_types = models.JSONField(default=list, blank=True)
    is_test = models.BooleanField(default=True)
    # the last number used, base or delta
    crl_number = models.PositiveBigIntegerField(default=0, verbose_name=_("CRL number"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("certificate authority")
        verbose_name_plural = _("certificate authorities")

    def __str__(self) -> str:
        return self.name


class Crl(models.Model):
    """A CRL as published: the newest base and the newest delta of each CA are served under /pki/crl/."""

    class Kind(models.TextChoices):
        BASE = "base", _("Full CRL")
        DELTA = "delta", _("Delta CRL")

    authority = models.ForeignKey(
        CertificateAuthority, on_delete=models.PROTECT, related_name="crls", verbose_name=_("authority")
    )
    kind = models.CharField(max_length=5, choices=Kind.choices, verbose_name=_("kind"))
    number = models.PositiveBigIntegerField(verbose_name=_("number"))
    base_number = models.PositiveBigIntegerField(null=True, blank=True)  # a delta's BaseCRLNumber
    this_update = models.DateTimeField(verbose_name=_("this update"))
    next_update = models.DateTimeField(verbose_name=_("next update"))
    entries = models.PositiveIntegerField(default=0, verbose_name=_("entries"))
    der = models.BinaryField()
    published_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("CRL")
        verbose_name_plural = _("CRLs")
        constraints = [models.UniqueConstraint(fields=["authority", "number"], name="crl_unique_number")]
        indexes = [models.Index(fields=["authority", "kind", "-number"])]

    def __str__(self) -> str:
        return f"{self.authority_id} {self.kind} #{self.number}"


class OcspResponder(models.Model):
    """A delegated OCSP responder certificate (id-kp-OCSPSigning, id-pkix-ocsp-nocheck) issued by
    ``authority`` for the responder key ``key_label`` on the OCSP token. The newest unexpired one signs that
    CA's answers."""

    authority = models.ForeignKey(CertificateAuthority, on_delete=models.PROTECT, related_name="responders")
    key_label = models.CharField(max_length=64)
    algorithm = models.CharField(max_length=16)
    der = models.BinaryField()
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"OCSP responder for {self.authority_id} until {self.not_after:%Y-%m-%d}"


class AuditEvent(models.Model):
    """One use of a CA or responder key (or a refusal to use one), written in the same transaction as its
    effect: who or what asked, what was done, on which certificates."""

    class Operation(models.TextChoices):
        CA_CREATE = "ca_create", _("CA created")
        ISSUE = "issue", _("Certificate issued")
        REFUSE = "refuse", _("Signing request refused")
        REVOKE = "revoke", _("Revocation")
        CRL = "crl", _("Full CRL")
        DELTA_CRL = "delta_crl", _("Delta CRL")
        ROOT_CRL = "root_crl", _("Root CRL")
        OCSP_KEY = "ocsp_key", _("OCSP responder key")
        SIGN_DATA = "sign_data", _("Card data signed")

    at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("at"))
    operation = models.CharField(max_length=12, choices=Operation.choices, verbose_name=_("operation"))
    authority = models.ForeignKey(
        CertificateAuthority,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
        verbose_name=_("authority"),
    )
    # Who or what asked: "station:site1 job 12", "ordre_operator:42 oppose card …", "command pki_init".
    actor = models.CharField(max_length=200, verbose_name=_("actor"))
    # a signing request's id
    request_id = models.UUIDField(null=True, blank=True, db_index=True, verbose_name=_("request id"))
    serials = models.JSONField(default=list, blank=True)  # hex serials of the certificates concerned
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("PKI audit event")
        verbose_name_plural = _("PKI audit events")
        indexes = [models.Index(fields=["operation", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.operation} by {self.actor}"


class Certificate(models.Model):
    """A card certificate. Issued before its card is recorded (the card number ties them), so a spoiled
    blank's certificates can be found and revoked."""

    class Usage(models.TextChoices):
        AUTH = "auth", _("Authentication")
        SIGN = "sign", _("Signature")

    class Reason(models.TextChoices):
        # RFC 5280 CRLReason names, as cryptography's x509.ReasonFlags values.
        UNSPECIFIED = "unspecified", _("Unspecified")
        KEY_COMPROMISE = "keyCompromise", _("Key compromise")
        AFFILIATION_CHANGED = "affiliationChanged", _("Affiliation changed")
        SUPERSEDED = "superseded", _("Superseded")
        CESSATION = "cessationOfOperation", _("Cessation of operation")

    authority = models.ForeignKey(CertificateAuthority, on_delete=models.PROTECT, related_name="certificates")
    serial = models.CharField(max_length=40, unique=True, verbose_name=_("serial number"))  # lower-case hex
    # The card that holds the key, once recorded (the PKI never follows this link; cards read it).
    card = models.ForeignKey(
        "cards.Card", null=True, blank=True, on_delete=models.PROTECT, related_name="certificates"
    )
    card_number = models.CharField(max_length=20, db_index=True, verbose_name=_("card number"))
    usage = models.CharField(max_length=4, choices=Usage.choices, verbose_name=_("usage"))
    subject = models.CharField(max_length=500)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField(verbose_name=_("not after"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked at"))
    revocation_reason = models.CharField(
        max_length=24, choices=Reason.choices, blank=True, verbose_name=_("revocation reason")
    )
    der = models.BinaryField()

    class Meta:
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")
        indexes = [models.Index(fields=["authority", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.usage} {self.serial}"


class OcspResponse(models.Model):
    """A signed answer about one certificate, as served to RFC 5019 clients until its refresh time, for as
    long as the certificate's revocation state is the one it was made for (``revoked_at``,
    ``revocation_reason``). Keyed by the CertID it answers (echoed byte for byte: SHA-1 and SHA-256
    requests get an answer each)."""

    certificate = models.ForeignKey(Certificate, on_delete=models.CASCADE, related_name="ocsp_responses")
    cert_id = models.CharField(max_length=64)  # SHA-256 (hex) of the request's CertID DER
    responder = models.ForeignKey(OcspResponder, on_delete=models.CASCADE, related_name="responses")
    revoked_at = models.DateTimeField(null=True, blank=True)  # the state it was made for
    revocation_reason = models.CharField(max_length=24, blank=True)
    this_update = models.DateTimeField()
    next_update = models.DateTimeField()
    refresh_at = models.DateTimeField()  # half-life: past it, a new answer is signed
    der = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["certificate", "cert_id"], name="ocsp_response_unique_cert_id")
        ]

    def __str__(self) -> str:
        return f"OCSP answer for {self.certificate_id} until {self.next_update:%Y-%m-%d %H:%M}"
