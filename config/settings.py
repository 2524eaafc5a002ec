"""Settings for the CPx platform: from the environment only (documented in deploy/.env.example)."""

from datetime import timedelta
from pathlib import Path
from typing import Any

from django.utils.translation import gettext_lazy as _

from .env import database_from_url, env, env_bool, env_int, env_list

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env("CPX_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env("DJANGO_SECRET_KEY", "insecure-development-key-change-me")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_fsm",
    "django_htmx",
    "csp",
    "dsfr",  # the State's design system (DSFR): its CSS, JS, icons and fonts, served locally
    "drf_spectacular_sidecar",
    "axes",
    # The platform's apps, from the bottom layer up (README "Layout"; .importlinter keeps it).
    "audit",
    "approvals",
    "registry",
    "notifications",
    "pki",
    "cards",
    "orders",
    "stations",
    "lifecycle",
    "oauth2_provider",
    "ecps",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy with per-page additions, Permissions-Policy, Cache-Control (core.headers).
    "core.headers.SecurityHeadersMiddleware",
    # Static files served by the application itself (make run and a container need no nginx for them).
    "config.storage.WhiteNoiseMiddleware",  # whitenoise.middleware.WhiteNoiseMiddleware
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Rate limits by URL name or path (CPX_RATE_LIMITS): refused before the view, 429 with Retry-After.
    "core.ratelimit.RateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "core.web.DomainErrorMiddleware",
    # Friendly error pages in every mode: an empty 405 (require_POST) and DEBUG's technical 404 become the
    # portal's pages, JSON under /api/ (config.errors).
    "config.errors.ErrorPageMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": database_from_url(env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cpx"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT", str(VAR_DIR / "static")))
MEDIA_ROOT = Path(env("DJANGO_MEDIA_ROOT", str(VAR_DIR / "media")))
# Production (DEBUG off): hashed, compressed files from `collectstatic`, served by WhiteNoise with
# far-future cache headers; before any collectstatic the storage falls back to plain names (config.storage).
DJANGO_STATIC_MANIFEST = env_bool("DJANGO_STATIC_MANIFEST", not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "config.storage.StaticStorage"
        if DJANGO_STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# DEBUG shows the portal's 404 page too; DJANGO_DEBUG_404=technical brings back Django's technical page.
CPX_DEBUG_404 = env("DJANGO_DEBUG_404", "friendly")
CSRF_FAILURE_VIEW = "config.errors.csrf_failure"

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

# Security: sessions expire, cookies are secure behind TLS in production.
SESSION_COOKIE_AGE = env_int("DJANGO_SESSION_AGE", 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG and env_bool("DJANGO_HTTPS", False))
SESSION_COOKIE_SECURE = env_bool("DJANGO_HTTPS", False)
CSRF_COOKIE_SECURE = env_bool("DJANGO_HTTPS", False)
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("DJANGO_BEHIND_PROXY") else None
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# /pki/ (CRLs, CA certificates, OCSP) answers over plain HTTP in every configuration: relying parties fetch
# these signed objects over http:// (RFC 5280 §4.2.1.13, RFC 6960 A.1). The rest of the site is HTTPS-only.
SECURE_REDIRECT_EXEMPT = [r"^pki/"]

AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"
AXES_LOCKOUT_CALLABLE = "core.ratelimit.axes_lockout"  # that page, 429 with Retry-After (the cool-off)

REST_FRAMEWORK = {
    # Bearer tokens of integrator clients (OAuth 2.0 client credentials, core.auth) first, so an anonymous
    # request is told how to authenticate (401 with WWW-Authenticate, not 403); the portal's session next.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.auth.IntegratorTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Every API error in one shape: {"code", "message"[, "fields"]}.
    "EXCEPTION_HANDLER": "core.api.api_exception_handler",
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # One bounded, strict limit/offset page and one bounded JSON parser for every view (core.pagination,
    # core.parsers).
    "DEFAULT_PAGINATION_CLASS": "core.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    # JSON only, also for DRF's generic views (no browsable HTML API under /api/).
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
SPECTACULAR_SETTINGS: dict[str, Any] = {
    "TITLE": "CPx card platform API",
    "DESCRIPTION": """Registry, orders, cards and their lifecycle for French health-professional smart cards.

## Authentication

Programs use **OAuth 2.0 client credentials** (RFC 6749 §4.4, security scheme `oauth2`). An administrator
creates an *integrator client* for a platform account (`/admin/`, "Integrator clients"): the client acts as
that account, with its role and authority, and sees exactly what the account sees. Its secret is shown
once. Ask for a token (short-lived: `expires_in` seconds) at `/o/token/`, then send it as a Bearer token:

```sh
TOKEN=$(curl -s -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials \\
  https://cpx.example.fr/o/token/ | jq -r .access_token)
curl -H "Authorization: Bearer $TOKEN" https://cpx.example.fr/api/v1/cards/
```

Scopes: `api:read` (GET) and `api:write` (every other method); without `scope`, the token gets all the
scopes of the account's role (an auditor's clients: `api:read` only); a scope the role lacks is refused
(`invalid_scope`). A missing, unknown or expired token answers 401, a token without the needed scope 403.
The portal's pages call the API with the signed-in session (`cookieAuth`, with the CSRF token on writes).
See docs/api_auth.md.
""",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's assets are served by the platform itself (no CDN: the docs work offline).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Registers the OAuth 2.0 client-credentials security scheme of core.auth (see core.auth_schema).
    "PREPROCESSING_HOOKS": ["core.auth_schema.register_security_schemes"],
    # Several models have a `state`/`reason` field with their own choices: name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "OrderStateEnum": "orders.models.Order.State",
        "CardStateEnum": "cards.models.Card.State",
        "ReaderStationStateEnum": "stations.models.ReaderStation.State",
        "ReaderStateEnum": "stations.models.Reader.State",
        "BlankCardStateEnum": "stations.models.BlankCard.State",
        "NotificationStateEnum": "notifications.models.Notification.State",
        "ReplacementReasonEnum": "orders.models.Order.ReplacementReason",
        "OrderKindEnum": "orders.models.Order.Kind",
        "PaymentMethodEnum": "orders.models.Payment.Method",
        "RevocationReasonEnum": "pki.models.Certificate.Reason",
        "ApprovalStateEnum": "approvals.models.ApprovalRequest.State",
    },
}

# Celery: Redis by default; CELERY_BROKER_URL may be filesystem:// for the embedded default.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "default"
# The signing service's queue: its worker (`manage.py run_signer`) is the only process given the CA
# token's PIN.
CPX_SIGNING_QUEUE = "signing"
# Tests and single-process tools only: run the signing service's tasks in the calling process.
CPX_SIGNING_INLINE = env_bool("CPX_SIGNING_INLINE", False)
# A station waits this long for the signing service's answer; older signing requests are refused.
CPX_SIGNING_TIMEOUT_SECONDS = env_int("CPX_SIGNING_TIMEOUT_SECONDS", 30)
CPX_SIGNING_REQUEST_MAX_AGE_SECONDS = env_int("CPX_SIGNING_REQUEST_MAX_AGE_SECONDS", 600)
CELERY_TASK_ROUTES = {"pki.*": {"queue": CPX_SIGNING_QUEUE}, "signing.*": {"queue": CPX_SIGNING_QUEUE}}
CELERY_TIMEZONE = TIME_ZONE
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded default of `make run` when no Redis answers: a broker made of folders under var/.
    _broker_dir = Path(env("CPX_BROKER_FILESYSTEM_DIR", str(VAR_DIR / "broker")))
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "in"),
        "data_folder_out": str(_broker_dir / "in"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # else kombu writes ./control in the cwd
        "store_processed": False,
    }

EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "CPx <no-reply@cpx.example>")

# Domain settings.
CPX_REJECT_DIR = Path(env("CPX_REJECT_DIR", str(VAR_DIR / "rejects")))
CPX_ORDER_OVERDUE_DAYS = env_int("CPX_ORDER_OVERDUE_DAYS", 28)
CPX_RENEWAL_WINDOW_DAYS = env_int("CPX_RENEWAL_WINDOW_DAYS", 180)
CPX_REMINDER_FIRST_DAYS = env_int("CPX_REMINDER_FIRST_DAYS", 90)
CPX_REMINDER_SECOND_DAYS = env_int("CPX_REMINDER_SECOND_DAYS", 30)
CPX_CARD_VALIDITY_YEARS = {
    "CPS": env_int("CPX_VALIDITY_CPS_YEARS", 3),
    "CPF": env_int("CPX_VALIDITY_CPF_YEARS", 3),
    "CPE": env_int("CPX_VALIDITY_CPE_YEARS", 3),
    "CPA": env_int("CPX_VALIDITY_CPA_YEARS", 3),
    "CDE": env_int("CPX_VALIDITY_CDE_YEARS", 3),
}
CPX_PKI_TEST_HIERARCHY = env_bool("CPX_PKI_TEST_HIERARCHY", True)
# --- the CA's PKCS#11 tokens (pki.hsm). Three tokens, three PINs, so each process holds only its own:
# the root (the operator's `pki_root` ceremonies), the issuing CAs (the signing service only) and the
# delegated OCSP responder (the web processes). In development each lives in a SoftHSM2 store under
# var/hsm/<role>/ (CPX_HSM_SOFTHSM_DIR; created by pki_init); in production CPX_HSM_MODULE is the HSM's
# PKCS#11 module and CPX_HSM_SOFTHSM_DIR is empty. PINs come from the environment or <NAME>_FILE;
# `check --deploy` refuses the development defaults.
CPX_HSM_MODULE = env("CPX_HSM_MODULE", "/usr/lib/softhsm/libsofthsm2.so")
CPX_HSM_SOFTHSM_DIR = env("CPX_HSM_SOFTHSM_DIR", str(VAR_DIR / "hsm"))
CPX_HSM_DEV_PINS = {
    "root": "dev-root-0000",
    "ca": "dev-ca-0000",
    "ocsp": "dev-ocsp-0000",
    "unblock": "dev-unblock-0000",
}
CPX_ROOT_TOKEN_LABEL = env("CPX_ROOT_TOKEN_LABEL", "CPX-ROOT")
CPX_ROOT_TOKEN_PIN = env("CPX_ROOT_TOKEN_PIN", CPX_HSM_DEV_PINS["root"])
CPX_CA_TOKEN_LABEL = env("CPX_CA_TOKEN_LABEL", "CPX-CA")
CPX_CA_TOKEN_PIN = env("CPX_CA_TOKEN_PIN", CPX_HSM_DEV_PINS["ca"])
CPX_OCSP_TOKEN_LABEL = env("CPX_OCSP_TOKEN_LABEL", "CPX-OCSP")
CPX_OCSP_TOKEN_PIN = env("CPX_OCSP_TOKEN_PIN", CPX_HSM_DEV_PINS["ocsp"])
# The unblock token (pki.unblock): the master key the cards' PUKs are derived from and the help-desk key
# pair, in versions. Opened by the reader stations (a new card's PUK) and the signing service (codes
# letters re-issued, help-desk responses); never by the web processes. New cards take the current version.
CPX_UNBLOCK_TOKEN_LABEL = env("CPX_UNBLOCK_TOKEN_LABEL", "CPX-UNBLOCK")
CPX_UNBLOCK_TOKEN_PIN = env("CPX_UNBLOCK_TOKEN_PIN", CPX_HSM_DEV_PINS["unblock"])
CPX_UNBLOCK_KEY_VERSION = env_int("CPX_UNBLOCK_KEY_VERSION", 1)
# Key algorithms by role, checked against the policy table in pki/keys.py (root: ec-p384 or rsa-4096;
# issuing CAs and the OCSP responder: ec-p256, ec-p384, rsa-3072 or rsa-4096).
CPX_PKI_ROOT_ALGORITHM = env("CPX_PKI_ROOT_ALGORITHM", "ec-p384")
CPX_PKI_CA_ALGORITHM = env("CPX_PKI_CA_ALGORITHM", "ec-p256")
CPX_PKI_OCSP_ALGORITHM = env("CPX_PKI_OCSP_ALGORITHM", "ec-p256")
# Where relying parties fetch CRLs, CA certificates and OCSP: always plain http:// (RFC 5280 §4.2.1.13,
# RFC 6960 A.1: signed objects, and TLS to check TLS would be a loop). Empty: CPX_BASE_URL over http.
CPX_PKI_BASE_URL = env("CPX_PKI_BASE_URL", "")
# Certificate policy OIDs (docs/pki_profile.md). The default arc is under IANA's enterprise number for
# documentation (RFC 5612: 32473), for tests.
CPX_PKI_POLICY_ARC = env("CPX_PKI_POLICY_ARC", "1.3.6.1.4.1.32473.250.71")
CPX_PKCS11_MODULE = env("CPX_PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so")
CPX_SECRETS_KEY = env("CPX_SECRETS_KEY", "")  # Fernet key for PIN mailers; derived from SECRET_KEY if empty
CPX_BASE_URL = env("CPX_BASE_URL", "http://127.0.0.1:8000")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- orders ---
# After this many personalization failures an order waits in `failed` for an operator instead of being
# requeued automatically (each failure spoils a blank card).
CPX_MAX_PRODUCTION_FAILURES = env_int("CPX_MAX_PRODUCTION_FAILURES", 3)
# Dotted path of the online payment provider (orders.payments.PaymentProvider); empty: operators record
# payments (transfer, cheque) and online payment is not offered.
CPX_PAYMENT_PROVIDER = env("CPX_PAYMENT_PROVIDER", "")
# Who issues the invoices (printed on the invoice PDF).
CPX_INVOICE_ISSUER = env("CPX_INVOICE_ISSUER", "Agence du numérique en santé — CPx")

# --- payments (orders.payments, .providers, .reconciliation, .invoices; docs/payments.md) ---
# The development provider (CPX_PAYMENT_PROVIDER=orders.providers.dev.DevProvider) serves a test checkout
# page under /dev-payments/: never in production (`check --deploy` errors, orders.E001). Its HMAC key:
# derived from SECRET_KEY when empty.
CPX_DEV_PAYMENT_SECRET = env("CPX_DEV_PAYMENT_SECRET", "")
# Lyra / Systempay / PayZen "formulaire de paiement" (CPX_PAYMENT_PROVIDER=orders.providers.systempay.
# SystempayProvider): the shop id, its key (test or production, as CPX_SYSTEMPAY_MODE says), the form URL.
CPX_SYSTEMPAY_SITE_ID = env("CPX_SYSTEMPAY_SITE_ID", "")
CPX_SYSTEMPAY_KEY = env("CPX_SYSTEMPAY_KEY", "")
CPX_SYSTEMPAY_MODE = env("CPX_SYSTEMPAY_MODE", "TEST")  # TEST or PRODUCTION (vads_ctx_mode)
CPX_SYSTEMPAY_URL = env("CPX_SYSTEMPAY_URL", "https://paiement.systempay.fr/vads-payment/")
# Who is paid by transfer or cheque (shown to payers; IBAN and BIC checked by `check`, orders.E003/E004).
# The defaults are a development account: `check --deploy` errors on them (orders.E005).
CPX_PAYEE_NAME = env("CPX_PAYEE_NAME", "Agence du numérique en santé")
CPX_PAYEE_IBAN = env("CPX_PAYEE_IBAN", "FR76 3000 1007 9412 3456 7890 185")
CPX_PAYEE_BIC = env("CPX_PAYEE_BIC", "BDFEFRPPCCT")
CPX_PAYEE_BANK = env("CPX_PAYEE_BANK", "Banque de France")
# Where cheques are sent (lines separated by "|").
CPX_PAYEE_ADDRESS = env(
    "CPX_PAYEE_ADDRESS", "Agence du numérique en santé — Régie CPx|9 rue Georges Pitard|75015 Paris"
).split("|")
# The seller on invoices: address lines ("|"), SIRET, VAT number, or the VAT exemption mention when empty.
CPX_SELLER_ADDRESS = env("CPX_SELLER_ADDRESS", "9 rue Georges Pitard|75015 Paris").split("|")
CPX_SELLER_SIRET = env("CPX_SELLER_SIRET", "")
CPX_SELLER_VAT_NUMBER = env("CPX_SELLER_VAT_NUMBER", "")
CPX_SELLER_VAT_MENTION = env("CPX_SELLER_VAT_MENTION", "TVA non applicable, article 256 B du CGI")

# --- notifications ---
# Delivery attempts before a message is marked failed (shown to operators in the admin), and the back-off
# between attempts: base × 2^(n-1) seconds, capped.
CPX_NOTIFY_MAX_ATTEMPTS = env_int("CPX_NOTIFY_MAX_ATTEMPTS", 8)
CPX_NOTIFY_BACKOFF_SECONDS = env_int("CPX_NOTIFY_BACKOFF_SECONDS", 60)
CPX_NOTIFY_BACKOFF_MAX_SECONDS = env_int("CPX_NOTIFY_BACKOFF_MAX_SECONDS", 6 * 3600)
# How long a worker holds a message it is sending; keep it well above the SMTP timeout.
CPX_NOTIFY_LEASE_SECONDS = env_int("CPX_NOTIFY_LEASE_SECONDS", 300)
# Messages the sweep (every 30 s, config/celery.py) delivers per run at most.
CPX_NOTIFY_SWEEP_BATCH = env_int("CPX_NOTIFY_SWEEP_BATCH", 500)
CPX_NOTIFY_DEFAULT_LANGUAGE = env("CPX_NOTIFY_DEFAULT_LANGUAGE", "fr")
# Return address printed at the top of every letter (lines separated by "|").
CPX_LETTER_RETURN_ADDRESS = env(
    "CPX_LETTER_RETURN_ADDRESS", "Agence du numérique en santé — Service CPx|9 rue Georges Pitard|75015 Paris"
).split("|")
# The number a holder calls to oppose a lost or stolen card, printed on every card letter (cards/mailers.py).
# The default is in the range ARCEP keeps for fiction (01 99 00 xx xx): set the service's real number.
CPX_OPPOSITION_PHONE = env("CPX_OPPOSITION_PHONE", "01 99 00 12 34")
# Where the file-based mail backend (django.core.mail.backends.filebased.EmailBackend) writes messages.
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)

# --- lifecycle ---
# The PIN mailer leaves this many days after its card (never in the same post).
CPX_PIN_MAILER_DELAY_DAYS = env_int("CPX_PIN_MAILER_DELAY_DAYS", 1)
# Days after shipping from which a holder may declare a card not received (opposition, free replacement).
CPX_NOT_RECEIVED_DAYS = env_int("CPX_NOT_RECEIVED_DAYS", 10)
# Life of a card's activation challenge, signed with the card by the holder's agent (cpx-card sign).
CPX_ACTIVATION_CHALLENGE_SECONDS = env_int("CPX_ACTIVATION_CHALLENGE_SECONDS", 900)
# How long a renewal reminder's one-click link stays valid.
CPX_RENEWAL_LINK_MAX_AGE_DAYS = env_int("CPX_RENEWAL_LINK_MAX_AGE_DAYS", 90)
# Cards per transaction in the daily renewal scan (memory is one chunk's, whatever the table size).
CPX_RENEWAL_SCAN_CHUNK = env_int("CPX_RENEWAL_SCAN_CHUNK", 1000)
# A codes letter re-issued on request (lifecycle.codes): its fee in euros, "0" (the default) for free.
CPX_CODES_REISSUE_FEE = env("CPX_CODES_REISSUE_FEE", "0")
# A help-desk unblock response not shown to its operator within this many minutes is purged unseen.
CPX_UNBLOCK_RESPONSE_MINUTES = env_int("CPX_UNBLOCK_RESPONSE_MINUTES", 30)

# --- stations ---
CPX_STATIONS_DIR = Path(env("CPX_STATIONS_DIR", str(VAR_DIR / "stations")))  # SoftHSM2 token stores (dev)

# --- ecps ---
# The e-CPS: a WebAuthn passkey per professional exercise, and the OpenID Connect provider that signs
# holders in to health services with it (django-oauth-toolkit).
CPX_WEBAUTHN_RP_ID = env("CPX_WEBAUTHN_RP_ID", "localhost")
CPX_WEBAUTHN_RP_NAME = env("CPX_WEBAUTHN_RP_NAME", "CPx e-CPS")
CPX_WEBAUTHN_ORIGIN = env_list("CPX_WEBAUTHN_ORIGIN", "http://localhost:8000")
CPX_ECPS_ACTIVATION_CODE_SECONDS = env_int("CPX_ECPS_ACTIVATION_CODE_SECONDS", 90)
CPX_ECPS_CHALLENGE_SECONDS = env_int("CPX_ECPS_CHALLENGE_SECONDS", 300)
CPX_ECPS_OTP_SECONDS = env_int("CPX_ECPS_OTP_SECONDS", 600)
CPX_ECPS_OTP_ATTEMPTS = env_int("CPX_ECPS_OTP_ATTEMPTS", 5)
CPX_ECPS_OTP_SENDS_PER_DAY = env_int("CPX_ECPS_OTP_SENDS_PER_DAY", 5)
CPX_ECPS_SIGNIN_MAX_AGE_SECONDS = env_int("CPX_ECPS_SIGNIN_MAX_AGE_SECONDS", 300)
# Dotted path of the SMS sender (ecps.sms.SmsSender); the console one prints codes: development only.
CPX_SMS_BACKEND = env(
    "CPX_SMS_BACKEND", "ecps.sms.ConsoleSmsSender" if DEBUG else "ecps.sms.DisabledSmsSender"
)
# The OpenID Connect signing key (RS256): CPX_OIDC_RSA_PRIVATE_KEY in production; without it, the app
# (ecps.apps, at start-up) gives the provider the key of this file, created on first use.
CPX_OIDC_KEY_FILE = Path(env("CPX_OIDC_KEY_FILE", str(VAR_DIR / "oidc" / "oidc-rs256.key.pem")))
CPX_OIDC_ACCESS_TOKEN_SECONDS = env_int("CPX_OIDC_ACCESS_TOKEN_SECONDS", 300)

# django-oauth-toolkit's models, named so that the e-CPS's own models may point at them (swappable).
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"  # noqa: S105 - a model name
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
OAUTH2_PROVIDER: dict[str, Any] = {
    "OIDC_ENABLED": True,
    "PKCE_REQUIRED": True,
    "OIDC_RSA_PRIVATE_KEY": env("CPX_OIDC_RSA_PRIVATE_KEY", ""),
    "OAUTH2_VALIDATOR_CLASS": "ecps.oidc.EcpsValidator",
    # Integrator clients' scopes are their account's role's (registry.integrators; client credentials).
    "SCOPES_BACKEND_CLASS": "registry.integrators.IntegratorScopes",
    "SCOPES": {
        "openid": "OpenID Connect",
        "profile": "Identité, profession et situations d'exercice",
    },
    "DEFAULT_SCOPES": ["openid"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": CPX_OIDC_ACCESS_TOKEN_SECONDS,
    "ID_TOKEN_EXPIRE_SECONDS": CPX_OIDC_ACCESS_TOKEN_SECONDS,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "REFRESH_TOKEN_EXPIRE_SECONDS": env_int("CPX_OIDC_REFRESH_TOKEN_SECONDS", 8 * 3600),
    "REQUEST_APPROVAL_PROMPT": "force",
    "ALLOWED_REDIRECT_URI_SCHEMES": env_list("CPX_OIDC_REDIRECT_SCHEMES", "https,http"),
    # The OAuth 2.0 Security BCP (RFC 9700): no implicit nor password grant, PKCE with S256 only, tokens
    # never in URLs and stored hashed, the `iss` authorization-response parameter, refresh replay detection.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # What the provider does, and so what discovery says (ecps.provider.discovery(); docs/oidc.md): the
    # authorization code flow only (no implicit nor hybrid response type), client secrets by Basic or POST;
    # client credentials for integrator clients (registry.integrators).
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["client_secret_basic", "client_secret_post"],
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token", "client_credentials"],
    # RP-initiated logout: post_logout_redirect_uri matched exactly against the client's registered ones;
    # no question asked when the id_token_hint names the holder signed in here.
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
    "OIDC_RP_INITIATED_LOGOUT_STRICT_REDIRECT_URIS": True,
    "OIDC_RP_INITIATED_LOGOUT_ACCEPT_EXPIRED_TOKENS": True,
    "OIDC_RP_INITIATED_LOGOUT_DELETE_TOKENS": True,
}

# === hardening (issue 15) ================================================================================
# Each block below has one owner; keep your settings inside your block.

# --- API input: body size and depth, text, pagination, JSON errors (core.parsers, core.api) ---
# A JSON body larger than this answers 413, nested deeper 400 (core.parsers). Django's own limit on form and
# multipart fields (DATA_UPLOAD_MAX_MEMORY_SIZE) answers the same 413 under /api/ (config.errors).
CPX_API_JSON_MAX_BYTES = env_int("CPX_API_JSON_MAX_BYTES", 2_621_440)  # 2.5 MB, as Django's own limit
CPX_API_JSON_MAX_DEPTH = env_int("CPX_API_JSON_MAX_DEPTH", 32)
# The schema states those rules: a 400 for every operation with input, no NUL in text (core.schema).
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = [
    *SPECTACULAR_SETTINGS.get("POSTPROCESSING_HOOKS", ["drf_spectacular.hooks.postprocess_schema_enums"]),
    "core.schema.postprocess_input_rules",
]

# --- rate limits (core.ratelimit) and response headers: CSP, Permissions-Policy, Cache-Control ---
# Fixed-window counters in Redis (the broker's database, which `make run` gives each checkout; without
# Redis, each process counts alone). A request over a limit answers 429 with Retry-After. "key": address,
# account (the signed-in user, else the address) or username (the POSTed field); "count": requests,
# failures (sign-in answers that are not a redirect) or a list of statuses. docs in core/ratelimit.py.
CPX_RATE_LIMITS_ENABLED = env_bool("CPX_RATE_LIMITS_ENABLED", True)
CPX_RATE_LIMIT_REDIS_URL = env("CPX_RATE_LIMIT_REDIS_URL", CELERY_BROKER_URL)
CPX_RATE_LIMIT_PREFIX = env("CPX_RATE_LIMIT_PREFIX", "cpx:ratelimit:")
# Proxies in front of the platform that append the client's address to X-Forwarded-For (0: none).
CPX_RATE_LIMIT_TRUSTED_PROXIES = env_int(
    "CPX_RATE_LIMIT_TRUSTED_PROXIES", 1 if env_bool("DJANGO_BEHIND_PROXY") else 0
)
_SIGNIN_VIEWS = ["login", "admin:login"]
_ECPS_ACTIVATION_VIEWS = ["ecps:activate-card", "ecps:activate-codes", "ecps:card-proof", "ecps:codes-proof"]
CPX_RATE_LIMITS: dict[str, dict[str, Any]] = {
    # Failed sign-ins from one address over any usernames (password spraying), and on one username from
    # any address; axes still locks a username on one address after AXES_FAILURE_LIMIT failures.
    "signin-address": {
        "rate": env("CPX_RATE_SIGNIN_ADDRESS", "20/10m"),
        "key": "address",
        "views": _SIGNIN_VIEWS,
        "methods": ["POST"],
        "count": "failures",
    },
    "signin-account": {
        "rate": env("CPX_RATE_SIGNIN_ACCOUNT", "10/10m"),
        "key": "username",
        "views": _SIGNIN_VIEWS,
        "methods": ["POST"],
        "count": "failures",
    },
    "oidc-token": {
        "rate": env("CPX_RATE_OIDC_TOKEN", "60/m"),
        "key": "address",
        "views": ["oauth2_provider:token"],
        "prefixes": ["/o/token/"],
    },
    "oidc-introspection": {
        "rate": env("CPX_RATE_OIDC_INTROSPECTION", "300/m"),
        "key": "address",
        "views": ["ecps-introspect", "oauth2_provider:introspect"],
        "prefixes": ["/o/introspect/"],
    },
    "ecps-activation-address": {
        "rate": env("CPX_RATE_ECPS_ACTIVATION_ADDRESS", "30/h"),
        "key": "address",
        "views": _ECPS_ACTIVATION_VIEWS,
        "methods": ["POST"],
    },
    "ecps-activation-account": {
        "rate": env("CPX_RATE_ECPS_ACTIVATION_ACCOUNT", "15/h"),
        "key": "account",
        "views": _ECPS_ACTIVATION_VIEWS,
        "methods": ["POST"],
    },
    "ecps-enrolment": {
        "rate": env("CPX_RATE_ECPS_ENROLMENT", "30/h"),
        "key": "address",
        "prefixes": ["/ecps/enrol/"],  # the page, the code's check (options) and the passkey's registration
    },
    "renewal-links": {
        "rate": env("CPX_RATE_RENEWAL_LINKS", "30/h"),
        "key": "address",
        "prefixes": ["/api/v1/renewal-links/", "/renew/"],  # the link's page, its preview and confirmation
    },
    # Wrong or missing API credentials (and bearer tokens at userinfo): 401 answers counted per address;
    # past the limit every request there from that address waits for the window's end.
    "api-unauthenticated": {
        "rate": env("CPX_RATE_API_UNAUTHENTICATED", "30/m"),
        "key": "address",
        "prefixes": ["/api/", "/o/userinfo/"],
        "count": [401],
    },
    # OCSP through Django: generous (a relying party behind one address checks many certificates). The
    # standalone responder (`manage.py run_ocsp`, pki.ocsp_server) does not go through Django: not limited.
    "ocsp": {"rate": env("CPX_RATE_OCSP", "6000/m"), "key": "address", "prefixes": ["/pki/ocsp"]},
}

# Content-Security-Policy (django-csp): scripts and styles from this site only, no inline code (a script
# the platform writes into a page carries the request's nonce). core.headers adds, per page, what a form
# posts to elsewhere: the payment provider's form, the relying party an authorization returns to.
from csp.constants import NONCE, NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY: dict[str, Any] = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [NONE],
        "object-src": [NONE],
    },
}
# Additions to the policy by path prefix: the admin's change list writes one fixed <style> when a model
# has no actions (django/contrib/admin/templates/admin/change_list.html), allowed by its hash only.
CPX_CSP_UPDATES_BY_PREFIX = {
    "/admin/": {"style-src": ["'sha256-blvLUW3UscWqsXGByNOqdBboM+ShWAuugp2mC/wbafU='"]}
}
# Pages whose form posts to another site (URL name: the sources it may post to).
CPX_CSP_FORM_ACTION_BY_VIEW = {"portal:order-pay": [CPX_SYSTEMPAY_URL]}
# Browser features the platform never uses are denied; WebAuthn (the e-CPS passkeys) and the clipboard
# (copying a cpx-card command) stay allowed for this site only.
CPX_PERMISSIONS_POLICY = {
    "accelerometer": "()",
    "autoplay": "()",
    "camera": "()",
    "display-capture": "()",
    "encrypted-media": "()",
    "geolocation": "()",
    "gyroscope": "()",
    "hid": "()",
    "magnetometer": "()",
    "microphone": "()",
    "midi": "()",
    "payment": "()",
    "picture-in-picture": "()",
    "screen-wake-lock": "()",
    "serial": "()",
    "usb": "()",
    "xr-spatial-tracking": "()",
    "clipboard-read": "()",
    "clipboard-write": "(self)",
    "fullscreen": "(self)",
    "publickey-credentials-create": "(self)",
    "publickey-credentials-get": "(self)",
}
# Paths whose answers are public and keep their own caching; every other answer is `no-store` (personal
# pages, API answers, OAuth tokens: RFC 6749 §5.1). Static files are answered before this (WhiteNoise).
CPX_CACHEABLE_PREFIXES = (
    "/static/",
    "/pki/",
    "/api/schema/",
    "/api/docs/",
    "/.well-known/",
    "/o/.well-known/",
    "/healthz",
    "/ping",
)

# --- integrator credentials: OAuth 2.0 client credentials, API authentication, deploy checks ---
# Integrator clients (registry.integrators) get tokens at django-oauth-toolkit's /o/token/ (client
# credentials); their tokens live OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]
# (CPX_OIDC_ACCESS_TOKEN_SECONDS)
# and are stored hashed (COMPLIANT_BCP_RFC9700_TOKEN_STORAGE). Their scopes are their account's role's.
# Whether the OpenID Connect signing key came from the environment (ecps.apps fills in a generated one at
# start-up otherwise, which `check --deploy` refuses: config.checks).
CPX_OIDC_KEY_GIVEN = bool(OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"])
# `check --deploy` refuses a default or missing secret: SECRET_KEY, the OIDC key, service passwords.
from . import checks as _secret_checks  # noqa: E402,F401  (registers them; imports no app)

# --- issue 16: the registry drives the cards -------------------------------------------------------------
# (each block below belongs to one part of the work; add your settings inside your own block only)

# --- issue 16: issuance policies (lifecycle.policies, orders.decisions) ---

# --- issue 16: after each import (lifecycle.registry_driven) ---

# --- issue 16: renewal for everyone and the capacity plan (lifecycle.renewal, lifecycle.scheduling) ---
# Days before expiry at which the renewal the issuance policy orders is placed: before the first reminder
# (CPX_REMINDER_FIRST_DAYS), so that the reminder says it is under way, and early enough for the new card to
# arrive before the old one expires.
CPX_RENEWAL_ORDER_DAYS = env_int("CPX_RENEWAL_ORDER_DAYS", 120)
# Production and shipping: an automatic order is released at the latest this many days before the card it
# replaces expires (its deadline in the capacity plan).
CPX_PRODUCTION_LEAD_DAYS = env_int("CPX_PRODUCTION_LEAD_DAYS", 21)
# An automatic order that replaces no card (a first card) is due within this many days of its creation.
CPX_FIRST_CARD_RELEASE_DAYS = env_int("CPX_FIRST_CARD_RELEASE_DAYS", 7)
# The stations' capacity the plan counts on when they have made little or nothing lately (cards a day).
CPX_CAPACITY_FLOOR_PER_DAY = env_int("CPX_CAPACITY_FLOOR_PER_DAY", 500)
# The share of each day's capacity kept for the orders people place (the plan fills only the rest).
CPX_CAPACITY_MANUAL_SHARE = float(env("CPX_CAPACITY_MANUAL_SHARE", "0.2"))

# --- issue 16: webhooks and the card status API (notifications.webhooks, lifecycle.api_status) ---
# Relying parties told at once (Standard Webhooks): short timeouts, never a redirect; a failed message is
# tried again after BACKOFF, 2×, 4× ... (capped at BACKOFF_MAX) until MAX_ATTEMPTS, then waits (failed) for an
# operator. A claimed message is the worker's for LEASE seconds (keep it well above both timeouts).
CPX_WEBHOOK_CONNECT_TIMEOUT = float(env("CPX_WEBHOOK_CONNECT_TIMEOUT", "3"))
CPX_WEBHOOK_READ_TIMEOUT = float(env("CPX_WEBHOOK_READ_TIMEOUT", "5"))
CPX_WEBHOOK_MAX_ATTEMPTS = env_int("CPX_WEBHOOK_MAX_ATTEMPTS", 12)
CPX_WEBHOOK_BACKOFF_SECONDS = env_int("CPX_WEBHOOK_BACKOFF_SECONDS", 15)
CPX_WEBHOOK_BACKOFF_MAX_SECONDS = env_int("CPX_WEBHOOK_BACKOFF_MAX_SECONDS", 3600)
CPX_WEBHOOK_LEASE_SECONDS = env_int("CPX_WEBHOOK_LEASE_SECONDS", 120)
CPX_WEBHOOK_BATCH = env_int("CPX_WEBHOOK_BATCH", 200)  # messages claimed at once by one worker
CPX_WEBHOOK_THREADS = env_int("CPX_WEBHOOK_THREADS", 8)  # concurrent POSTs of one claimed batch
# Endpoints must be https; plain http only to this machine (127.0.0.1, ::1, localhost), for development and
# tests (refused by default outside DEBUG).
CPX_WEBHOOK_ALLOW_LOCAL_HTTP = env_bool("CPX_WEBHOOK_ALLOW_LOCAL_HTTP", DEBUG)
# The card status API (lifecycle.api_status): per integrator account.
CPX_RATE_LIMITS["card-status"] = {
    "rate": env("CPX_RATE_CARD_STATUS", "600/m"),
    "key": "account",
    "prefixes": ["/api/v1/card-status/"],
}
