"""From a verified token's claims to the principal: the user id, the roles, the session and the expiry."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from application.principal import CredentialError, Principal


def principal_from_claims(claims: dict[str, Any], *, user_claim: str = "sub", roles_path: str = "roles") -> Principal:
    """The principal a verified token names; ``CredentialError`` for a claim of the wrong shape.

    ``roles_path`` is a dotted path into the claims, so that each provider's
    place for roles can be named: ``roles``, ``realm_access.roles``
    (Keycloak), ``resource_access.<client>.roles``, ``permissions`` (Auth0),
    ``cognito:groups`` (Cognito). A missing path means no roles.
    """
    try:
        user_id = UUID(str(claims[user_claim]))
    except (KeyError, ValueError):
        raise CredentialError(f"the token's subject ({user_claim}) is not a user id") from None
    roles = _at(claims, roles_path)
    if roles is None:
        roles = []
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise CredentialError("the token's roles claim is malformed")
    session_id = claims.get("sid")
    if session_id is not None and not isinstance(session_id, str):
        raise CredentialError("the token's sid claim is malformed")
    try:
        expires_at = datetime.fromtimestamp(float(claims["exp"]), UTC)
    except (OverflowError, OSError, ValueError):  # beyond what a datetime holds (after the year 9999)
        raise CredentialError("the token's expiry is out of range") from None
    return Principal(user_id=user_id, roles=frozenset(roles), expires_at=expires_at, session_id=session_id)


def _at(claims: dict[str, Any], path: str) -> object:
    value: object = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value
