"""Who is calling, once a credential has been verified."""

from datetime import datetime
from uuid import UUID

import attrs


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

    def has_role(self, role: str) -> bool:
        """True when the credential grants ``role``."""
        return role in self.roles
