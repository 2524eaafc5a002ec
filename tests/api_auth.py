"""How a test authenticates to the API as a given user: one place, so the credential scheme can change.

``authorization(user)`` is the value of the ``Authorization`` header for ``user``.
"""

from __future__ import annotations

from typing import Any


def authorization(user: Any) -> str:
    from rest_framework.authtoken.models import Token

    return f"Token {Token.objects.get_or_create(user=user)[0].key}"
