"""From a verified token's claims to the principal: the user id, the roles, the tenant, the session and the expiry."""

import contextlib
import re
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid5

import jwt

from application.access import ADMIN_ROLE
from application.principal import TENANT_RULE, CredentialError, Principal, is_tenant, session_id_problem

#: Namespace of the user ids derived from subjects that are not UUIDs. Fixed for good: changing it
#: would give every such user a new id (their logs, streams and records would no longer match).
SUBJECT_NAMESPACE = UUID("17a4dc1f-ba10-450a-8ce1-f0f297bc9c5a")
#: A subject Herald takes: printable ASCII without spaces, at most 255 characters (``auth0|64f1…``).
_SUBJECT = re.compile(r"[\x21-\x7e]{1,255}")


def user_id_of(subject: str, issuer: str) -> UUID:
    """The user id for a token's subject: the subject itself when it is a UUID, else derived from it.

    Herald's user ids are UUIDs throughout (events, registry extractors, wire
    format, Redis keys). Keycloak, Cognito and Entra (``oid``) already send
    UUIDs and keep them; a subject such as Auth0's ``auth0|64f1…`` becomes the
    UUID version 5 of the issuer and the subject: the same for every token of
    that user, different for another subject or another provider. A service
    that addresses such a user from elsewhere computes the same function.
    """
    with contextlib.suppress(ValueError):
        return UUID(subject)
    if not _SUBJECT.fullmatch(subject):
        raise CredentialError("the token's subject is not a usable user id")
    return uuid5(SUBJECT_NAMESPACE, f"{issuer}|{subject}")


def verified_claims(
    token: str,
    key: Any,
    *,
    algorithms: list[str],
    issuer: str,
    audience: str | list[str],
    leeway: float,
    required: list[str],
) -> dict[str, Any]:
    """The claims of ``token`` once its signature, algorithm, issuer, audience and times hold.

    Anything doubtful is a ``CredentialError`` that says only "invalid" (or
    "expired", which the caller can act on): the caller learns nothing that
    would help forge a token.
    """
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            options={"require": required},
        )
    except jwt.ExpiredSignatureError:
        raise CredentialError("the token has expired") from None
    except jwt.InvalidTokenError:
        raise CredentialError("the token is invalid") from None
    return claims


def principal_from_claims(
    claims: dict[str, Any],
    *,
    user_claim: str = "sub",
    roles_path: str = "roles",
    tenant_path: str | None = None,
    any_subject: bool = False,
    admin_role: str = ADMIN_ROLE,
) -> Principal:
    """The principal a verified token names; ``CredentialError`` for a claim of the wrong shape.

    ``any_subject`` takes subjects that are not UUIDs (a provider's, see
    :func:`user_id_of`); Herald's own tokens always carry a UUID.
    ``admin_role`` is the provider's name for Herald's admin role: it grants
    ``admin``, and a provider role that happens to be called ``admin`` then
    grants nothing here.

    ``roles_path`` is a dotted path into the claims, so that each provider's
    place for roles can be named: ``roles``, ``realm_access.roles``
    (Keycloak), ``resource_access.<client>.roles``, ``permissions`` (Auth0),
    ``cognito:groups`` (Cognito). A missing path means no roles.

    ``tenant_path`` is where the caller's tenant is, found as :func:`claim_at`
    finds it (Herald's own tokens: ``tenant``); a missing path means no
    tenant, and None (the default) means the tokens name none.
    """
    subject = claims.get(user_claim)
    if not isinstance(subject, str):
        raise CredentialError(f"the token's subject ({user_claim}) is not a user id")
    try:
        user_id = user_id_of(subject, str(claims.get("iss", ""))) if any_subject else UUID(subject)
    except ValueError:
        raise CredentialError(f"the token's subject ({user_claim}) is not a user id") from None
    roles = claim_at(claims, roles_path)
    if roles is None:
        roles = []
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise CredentialError("the token's roles claim is malformed")
    session_id = claims.get("sid")
    if session_id is not None and (not isinstance(session_id, str) or session_id_problem(session_id)):
        raise CredentialError("the token's sid claim is malformed")
    expires_at = _instant(claims["exp"], "expiry")
    not_before = None if claims.get("nbf") is None else _instant(claims["nbf"], "not-before time")
    granted = frozenset(roles)
    if admin_role != ADMIN_ROLE:
        granted = (granted - {ADMIN_ROLE}) | ({ADMIN_ROLE} if admin_role in granted else frozenset())
    return Principal(
        user_id=user_id,
        roles=granted,
        expires_at=expires_at,
        session_id=session_id,
        not_before=not_before,
        tenant=None if tenant_path is None else _tenant(claim_at(claims, tenant_path)),
    )


def _tenant(value: object) -> str | None:
    if value is None or is_tenant(value):
        return value
    raise CredentialError(f"the token's tenant claim must be {TENANT_RULE}")


def _instant(value: Any, what: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (OverflowError, OSError, ValueError, TypeError):  # beyond what a datetime holds (after the year 9999)
        raise CredentialError(f"the token's {what} is out of range") from None


def claim_at(claims: dict[str, Any], path: str) -> object:
    """The claim ``path`` names (None: none): a top-level claim of that exact name, else a walk of nested objects.

    A whole name comes first, so that a namespaced claim such as
    ``https://example.com/tenant`` or ``example.com.tenant`` is found as
    itself; ``organization.id`` is otherwise the ``id`` inside ``organization``.
    """
    if path in claims:
        return claims[path]
    value: object = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value
