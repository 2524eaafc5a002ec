"""The OpenID Connect provider's rules, as django-oauth-toolkit's validator: every authorization code and
access token is bound to the e-CPS that signed the holder in, and is honoured only while that e-CPS is
active and the registry lists its holder (checked at the code exchange, at every use of a token, and by
introspection). The ID token carries the holder's national identifier as ``sub``, names, the profession of
the e-CPS's exercise and its active situations."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

from oauth2_provider.models import get_access_token_model, get_grant_model
from oauth2_provider.oauth2_validators import OAuth2Validator

from registry.models import Activity

from .models import ECps, GrantBinding, TokenBinding
from .services import ecps_usable

PROFILE_CLAIMS = ("national_id_type", "rpps", "adeli", "profession", "situations")


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
            GrantBinding.objects.create(grant=grant, ecps_id=ecps_id)

    def validate_code(
        self, client_id: str, code: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):
            return False
        ecps_id = (
            GrantBinding.objects.filter(grant__code=code, grant__application=client)
            .values_list("ecps_id", flat=True)
            .first()
        )
        if not ecps_usable(ecps_id):
            return False
        request.ecps_id = ecps_id
        return True

    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        previous = getattr(request, "refresh_token_instance", None)
        ecps_id = token_ecps_id(previous.access_token) if previous and previous.access_token else None
        if not ecps_usable(ecps_id):
            return False
        request.ecps_id = ecps_id
        return True

    def save_bearer_token(self, token: dict, request: Any, *args: Any, **kwargs: Any) -> Any:
        result = super().save_bearer_token(token, request, *args, **kwargs)
        ecps_id = getattr(request, "ecps_id", None)
        access_token = self._load_access_token(token["access_token"]) if ecps_id else None
        if ecps_id is not None and access_token is not None:
            TokenBinding.objects.create(access_token=access_token, ecps_id=int(ecps_id))
        return result

    def validate_bearer_token(self, token: str, scopes: list[str], request: Any) -> bool:
        if not super().validate_bearer_token(token, scopes, request):
            return False
        ecps_id = token_ecps_id(request.access_token)
        if not ecps_usable(ecps_id):
            return _invalid(request)
        request.ecps_id = ecps_id
        return True

    # --- claims ---------------------------------------------------------------------------------------

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        ecps_id = getattr(request, "ecps_id", None)
        ecps = ECps.objects.select_related("holder", "exercise__profession").filter(pk=ecps_id).first()
        return holder_claims(ecps) if ecps else {}
