"""Who is calling, once a credential has been verified."""

from datetime import datetime
from typing import TypeGuard
from uuid import UUID

import attrs

from domain.sse import Group, GroupKind, group_id_problem

#: Longest session id taken, in characters: room for any provider's ``sid``, and a bound on what one
#: revocation stores.
SESSION_ID_MAX_LENGTH = 255


def session_id_problem(session_id: str) -> str | None:
    """Why ``session_id`` cannot name a login session (None: it can).

    A session id is printable text: letters, digits, punctuation, symbols and
    the plain space, in any script, but no control, format or separator
    characters and no lone surrogates, which could not be stored or logged
    as written; and no ``/``, which ``DELETE /api/v1/sessions/{sid}`` could not address.
    """
    if not 0 < len(session_id) <= SESSION_ID_MAX_LENGTH:
        return f"a session id is 1 to {SESSION_ID_MAX_LENGTH} characters long"
    if not session_id.isprintable() or "/" in session_id:
        return "a session id is printable text without '/'"
    return None


#: What a tenant is, in words: it names the tenant's group, so it is a group id.
TENANT_RULE = "1 to 64 characters of letters, digits, '_', '.' and '-'"


def is_tenant(value: object) -> TypeGuard[str]:
    """True when ``value`` can be a caller's tenant: text that names a group (see ``group_id_problem``)."""
    return isinstance(value, str) and group_id_problem(value) is None


class CredentialError(Exception):
    """The credential is missing, malformed, expired or not ours; the message is safe to show the caller."""


class CredentialsUnavailableError(Exception):
    """The credential cannot be checked right now (its key cannot be looked up yet): retry then."""

    def __init__(self, detail: str, *, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


@attrs.frozen(kw_only=True)
class Principal:
    """The caller, as proven by a verified credential."""

    user_id: UUID
    roles: frozenset[str]
    expires_at: datetime
    session_id: str | None = None
    """The ``sid`` claim: the login session, which can be revoked as a whole."""
    not_before: datetime | None = None
    """The ``nbf`` claim: a stream does not open before it (API calls allow for clock skew)."""
    tenant: str | None = None
    """The organisation the caller belongs to; its tenant group's events reach the caller's streams. Always a
    group id (:func:`is_tenant`): checked where a token's claims are read."""

    @property
    def groups(self) -> frozenset[Group]:
        """The groups every stream of the caller is in, whatever it watches: its tenant's."""
        return frozenset({Group(GroupKind.TENANT, self.tenant)}) if self.tenant is not None else frozenset()

    def has_role(self, role: str) -> bool:
        """True when the credential grants ``role``."""
        return role in self.roles
