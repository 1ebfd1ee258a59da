"""Who the caller is, and what may end their session: tokens, stream tickets, session revocations."""

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol, runtime_checkable
from uuid import UUID

from application.principal import Principal


class Credentials(Protocol):
    """Verifies access tokens, and issues and verifies stream-only tokens; raises ``CredentialError``."""

    async def verify(self, token: str) -> Principal:
        """The principal of an access token; ``CredentialsUnavailableError`` when it cannot be checked now."""
        ...

    def verify_stream_token(self, token: str) -> Principal:
        """The principal of a stream-only token (the stream cookie's)."""
        ...

    def issue_stream_token(self, principal: Principal) -> str:
        """A token that opens the stream and nothing else, expiring with ``principal``'s credential."""
        ...


@runtime_checkable
class TokenIssuer(Protocol):
    """Issues access tokens (development tokens; in production an identity provider does this)."""

    def issue(self, user_id: UUID, roles: Iterable[str] = (), *, tenant: str | None = None) -> str:
        """A signed access token for ``user_id`` in a new session, of ``tenant``'s organisation when given."""
        ...


class TicketStoreUnavailableError(Exception):
    """Tickets cannot be issued or checked right now (their store is unreachable)."""


@runtime_checkable
class TicketStore(Protocol):
    """Where tickets wait between being issued and opening a stream; raises :class:`TicketStoreUnavailableError`."""

    ttl_seconds: float

    async def issue(self, principal: Principal) -> str:
        """A new ticket for ``principal``, valid for ``ttl_seconds``, usable once."""
        ...

    async def peek(self, ticket: str) -> Principal | None:
        """The ticket's principal, leaving it unspent; None when unknown, used or expired."""
        ...

    async def redeem(self, ticket: str) -> Principal | None:
        """The ticket's principal, consuming it atomically (one caller gets it); None when unknown, used or expired."""
        ...


RevocationListener = Callable[[str], None]


class RevocationUnavailableError(Exception):
    """The revocation could not be recorded where every process sees it; nothing was changed."""


@runtime_checkable
class SessionRevocations(Protocol):
    """Revoked login sessions (``sid`` claims), each until no token of it can pass any more."""

    async def revoke(self, session_id: str, *, until: datetime) -> None:
        """Revoke ``session_id`` on every process, or raise :class:`RevocationUnavailableError` and change nothing."""

    async def is_revoked(self, session_id: str) -> bool:
        """True when the session was revoked."""
        ...

    def listen(self, listener: RevocationListener) -> None:
        """Call ``listener(session_id)`` on this process whenever any process revokes a session."""

    def watch(self, sessions: Callable[[], Iterable[str]]) -> None:
        """Sessions this process cares about, re-checked when revocation messages may have been lost."""
