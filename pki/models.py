"""The platform's PKI: its certification authorities and the card certificates they issued."""

from django.db import models


class CertificateAuthority(models.Model):
    """A CA of the platform's PKI. Its private key never enters the database: ``key_path`` names a file
    encrypted with CPX_PKI_PASSPHRASE. The current CRL is cached here and regenerated on each revocation."""

    slug = models.SlugField(max_length=40, unique=True)  # /pki/crl/<slug>.crl
    name = models.CharField(max_length=200)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    der = models.BinaryField()
    key_path = models.CharField(max_length=500)
    is_test = models.BooleanField(default=True)
    crl_number = models.PositiveBigIntegerField(default=0)
    crl_der = models.BinaryField(null=True, blank=True)
    crl_next_update = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "certificate authorities"

    def __str__(self) -> str:
        return self.name


class Certificate(models.Model):
    """A card certificate. Issued before its card is recorded (the card number ties them), so a spoiled
    blank's certificates can be found and revoked."""

    class Usage(models.TextChoices):
        AUTH = "auth", "Authentification"
        SIGN = "sign", "Signature"

    class Reason(models.TextChoices):
        # RFC 5280 CRLReason names, as cryptography's x509.ReasonFlags values.
        UNSPECIFIED = "unspecified", "Non précisée"
        KEY_COMPROMISE = "keyCompromise", "Compromission de clé"
        AFFILIATION_CHANGED = "affiliationChanged", "Changement d'affiliation"
        SUPERSEDED = "superseded", "Remplacée"
        CESSATION = "cessationOfOperation", "Cessation d'activité"

    authority = models.ForeignKey(CertificateAuthority, on_delete=models.PROTECT, related_name="certificates")
    serial = models.CharField(max_length=40, unique=True)  # lower-case hex
    # The card that holds the key, once recorded (the PKI never follows this link; cards read it).
    card = models.ForeignKey(
        "cards.Card", null=True, blank=True, on_delete=models.PROTECT, related_name="certificates"
    )
    card_number = models.CharField(max_length=20, db_index=True)
    usage = models.CharField(max_length=4, choices=Usage.choices)
    subject = models.CharField(max_length=500)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=24, choices=Reason.choices, blank=True)
    der = models.BinaryField()

    class Meta:
        indexes = [models.Index(fields=["authority", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.usage} {self.serial}"
