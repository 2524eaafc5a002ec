"""The OpenAPI security scheme of ``core.auth.IntegratorTokenAuthentication`` (drf-spectacular).

Apart from core.auth: drf-spectacular's extensions import DRF's generic views, which DRF's settings are
still importing when they load the authentication classes (core.api, core.auth), a circular import. This
module is loaded by the schema generator instead (SPECTACULAR_SETTINGS["PREPROCESSING_HOOKS"]).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiAuthenticationExtension

from .auth import SCOPES, TOKEN_URL, needed_scope


def register_security_schemes(endpoints: list[Any], **kwargs: Any) -> list[Any]:
    """The preprocessing hook: importing this module registered the extension below; endpoints unchanged."""
    return endpoints


class IntegratorTokenScheme(OpenApiAuthenticationExtension):
    """The schema's security scheme for ``IntegratorTokenAuthentication``: OAuth 2.0 client credentials,
    with the scope each operation needs."""

    target_class = "core.auth.IntegratorTokenAuthentication"
    name = "oauth2"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "oauth2",
            "description": str(
                gettext_lazy(
                    "OAuth 2.0 client credentials of an integrator client (bound to a platform account, "
                    "created in the admin): POST grant_type=client_credentials to the token URL with the "
                    "client's id and secret (HTTP Basic), then send Authorization: Bearer <access_token>."
                )
            ),
            "flows": {
                "clientCredentials": {
                    "tokenUrl": TOKEN_URL,
                    "scopes": {name: str(text) for name, text in SCOPES.items()},
                }
            },
        }

    def get_security_requirement(self, auto_schema: Any) -> dict[str, list[str]]:
        return {self.name: [needed_scope(auto_schema.method, auto_schema.view)]}
