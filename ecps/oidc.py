"""The OpenID Connect provider's rules, as django-oauth-toolkit's validator: every authorization code and
access token is bound to the e-CPS that signed the holder in, and is honoured only while that e-CPS is
active and the registry lists its holder (checked at the code exchange, at every use of a token, and by
introspection). The ID token carries the holder's national identifier as ``sub``, names, the profession of
the e-CPS's exercise and its active situations."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import OrderedDict
from typing import Any

from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_grant_model
from oauth2_provider.oauth2_validators import OAuth2Validator

from registry.models import Activity

from .models import ECps, GrantBinding, ProviderSession, TokenBinding
from .services import ecps_usable

PROFILE_CLAIMS = ("national_id_type", "rpps", "adeli", "profession", "situations")
# Every claim the provider emits, in the ID token (the first line) or at userinfo: discovery lists these.
CLAIMS_SUPPORTED = (
    *("iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "nonce", "jti", "at_hash", "sid"),
    *("family_name", "given_name", "name", *PROFILE_CLAIMS),
)


def holder_claims(ecps: ECps) -> dict[str, Any]:
    person, exercise = ecps.holder, ecps.exercise
    return {
        "sub": person.national_id,
        "national_id_type": person.id_type,
        "rpps": person.rpps or "",
        "adeli": person.adeli or "",
        "family_name": person.last_name,
        "given_name": person.first_name,
        "name": person.full_name,
        "profession": {
            "code": exercise.profession_id,
            "label": exercise.profession.label,
            "category": exercise.category_id or "",
        },
        "situations": situations(exercise.pk),
    }


def situations(exercise_id: int) -> list[dict[str, Any]]:
    """The active situations of an exercise: where (structure) and how (mode of exercise)."""
    activities = (
        Activity.objects.filter(exercise_id=exercise_id, is_active=True)
        .select_related("structure", "mode")
        .order_by("pk")
    )
    return [
        {
            "mode": {"code": a.mode_id or "", "label": a.mode.label if a.mode else ""},
            "structure": {
                "id": a.structure.technical_id,
                "name": a.structure.name,
                "siret": a.structure.siret,
                "finess": a.structure.finess_site,
            }
            if a.structure
            else None,
        }
        for a in activities
    ]


def token_ecps_id(access_token: Any) -> int | None:
    return TokenBinding.objects.filter(access_token=access_token).values_list("ecps_id", flat=True).first()


def token_value_usable(token_value: str) -> bool:
    """For introspection: the access token's e-CPS still usable (the token's own validity aside)."""
    checksum = hashlib.sha256(token_value.encode("utf-8")).hexdigest()
    access_token = get_access_token_model().objects.filter(token_checksum=checksum).first()
    return access_token is not None and ecps_usable(token_ecps_id(access_token))


def _invalid(request: Any) -> bool:
    request.oauth2_error = OrderedDict(
        [
            ("error", "invalid_token"),
            ("error_description", "The e-CPS or its holder's registration is revoked."),
        ]
    )
    return False


def _bind(request: Any, binding: GrantBinding | TokenBinding) -> None:
    request.ecps_id = binding.ecps_id
    request.ecps_sid = binding.sid
    request.ecps_auth_datetime = binding.auth_time or timezone.now()
    request.ecps_code_hash = getattr(binding, "code_hash", "")


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def revoke_tokens_of_code(code: str, client: Any) -> int:
    """A code presented again after its exchange: every token issued from it is revoked (the code may
    have leaked; RFC 6749 §4.1.2, OAuth 2.0 Security BCP §4.5)."""
    bindings = TokenBinding.objects.filter(code_hash=code_hash(code), access_token__application=client)
    tokens = list(get_access_token_model().objects.filter(ecps_binding__in=bindings))
    for token in tokens:
        refresh = getattr(token, "refresh_token", None)
        if refresh is not None and refresh.revoked is None:
            refresh.revoke()
        else:
            token.revoke()
    return len(tokens)


class EcpsValidator(OAuth2Validator):
    oidc_claim_scope = {
        **OAuth2Validator.oidc_claim_scope,
        **dict.fromkeys(PROFILE_CLAIMS, "profile"),
    }

    # --- binding codes and tokens to the e-CPS -------------------------------------------------------

    def save_authorization_code(
        self, client_id: str, code: dict, request: Any, *args: Any, **kwargs: Any
    ) -> None:
        super().save_authorization_code(client_id, code, request, *args, **kwargs)
        ecps_id = getattr(request, "ecps_id", None)
        if ecps_id is not None:  # without a binding, the code cannot be exchanged (validate_code)
            grant = get_grant_model().objects.get(code=code["code"])
            auth_time = getattr(request, "ecps_auth_time", None)
            GrantBinding.objects.create(
                grant=grant,
                ecps_id=ecps_id,
                sid=getattr(request, "ecps_sid", "") or "",
                auth_time=dt.datetime.fromtimestamp(auth_time, tz=dt.UTC) if auth_time else None,
            )

    def validate_code(
        self, client_id: str, code: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):
            revoke_tokens_of_code(code, client)
            return False
        binding = GrantBinding.objects.filter(grant__code=code, grant__application=client).first()
        if binding is None or not ecps_usable(binding.ecps_id):
            return False
        _bind(request, binding)
        request.ecps_code_hash = code_hash(code)
        return True

    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        previous = getattr(request, "refresh_token_instance", None)
        binding = (
            TokenBinding.objects.filter(access_token=previous.access_token).first()
            if previous and previous.access_token
            else None
        )
        if binding is None or not ecps_usable(binding.ecps_id):
            return False
        _bind(request, binding)
        return True

    def save_bearer_token(self, token: dict, request: Any, *args: Any, **kwargs: Any) -> Any:
        """Bind the token to its e-CPS and open the relying party's provider session (``sid``)."""
        result = super().save_bearer_token(token, request, *args, **kwargs)
        ecps_id = getattr(request, "ecps_id", None)
        access_token = self._load_access_token(token["access_token"]) if ecps_id else None
        if ecps_id is None or access_token is None:
            return result
        sid = getattr(request, "ecps_sid", "") or ""
        TokenBinding.objects.create(
            access_token=access_token,
            ecps_id=int(ecps_id),
            sid=sid,
            auth_time=getattr(request, "ecps_auth_datetime", None),
            code_hash=getattr(request, "ecps_code_hash", ""),
        )
        if sid:
            ProviderSession.objects.get_or_create(
                sid=sid,
                application=request.client,
                defaults={"ecps_id": int(ecps_id), "issuer": self.get_oidc_issuer_endpoint(request)},
            )
        return result

    def validate_bearer_token(self, token: str, scopes: list[str], request: Any) -> bool:
        if not super().validate_bearer_token(token, scopes, request):
            return False
        ecps_id = token_ecps_id(request.access_token)
        if not ecps_usable(ecps_id):
            return _invalid(request)
        request.ecps_id = ecps_id
        return True

    # --- prompt=none: the authorization view has decided (ecps.provider.EcpsAuthorizationView.silent) ---

    def validate_silent_login(self, request: Any) -> bool:
        return True

    def validate_silent_authorization(self, request: Any) -> bool:
        return True

    # --- claims ---------------------------------------------------------------------------------------

    def get_id_token_dictionary(self, token: Any, token_handler: Any, request: Any) -> Any:
        """``auth_time`` is the passkey sign-in's (not the account's last login), ``sid`` the provider
        session the back-channel logout names, ``azp`` the client."""
        claims, expiration = super().get_id_token_dictionary(token, token_handler, request)
        auth_time = getattr(request, "ecps_auth_datetime", None)
        if auth_time is not None:
            claims["auth_time"] = int(auth_time.timestamp())
        if getattr(request, "ecps_sid", ""):
            claims["sid"] = request.ecps_sid
        claims["azp"] = request.client.client_id
        return claims, expiration

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        ecps_id = getattr(request, "ecps_id", None)
        ecps = ECps.objects.select_related("holder", "exercise__profession").filter(pk=ecps_id).first()
        return holder_claims(ecps) if ecps else {}
