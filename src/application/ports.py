"""What the use cases need from the outside world, beyond the domain's ports.

The domain's ports (``domain/ports``) speak its own vocabulary: domain events
go out through the event bus, SSE events through the publisher and in
through the subscriber. The ports here exist only because a use case needs
them: background work, rendering, and everything at the stream's edge —
credentials, tickets, session revocations, admission, stream lifetimes, the
clock. Infrastructure implements both kinds; the container wires them.
"""

import enum
from collections.abc import Callable, Coroutine, Iterable
from datetime import datetime
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

import attrs

from application.principal import Principal
from domain.ports import EventStream
from domain.sse import Group


class BackgroundTasks(Protocol):
    """Runs work after the request returns, and stops it when the service stops."""

    def spawn(self, work: Coroutine[Any, Any, None], *, name: str) -> None:
        """Start ``work`` in the background."""


class ReportRenderer(Protocol):
    """Produces the finished report; may raise to fail the generation."""

    async def render(self, report_id: UUID, title: str) -> str:
        """Return the download URL of the rendered report."""
        ...


class Clock(Protocol):
    """The current time (a test passes a fixed one)."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


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


class AdmissionRefusal(enum.Enum):
    """Why a stream may not open now."""

    PROCESS_FULL = "this instance holds as many streams as it may"
    USER_FULL = "too many open streams for this user"
    TOO_FAST = "too many stream opens for this user; slow down"


class StreamAdmission(Protocol):
    """Limits on open streams: per process, per user, and a per-user open rate."""

    def check(self, user_id: UUID) -> AdmissionRefusal | None:
        """None when the user may open a stream now (and count the open); otherwise why not."""
        ...

    def cancel(self, user_id: UUID) -> None:
        """Uncount an open :meth:`check` admitted: the stream did not open after all (its ticket was spent)."""

    def retry_after_seconds(self, user_id: UUID) -> int:
        """Seconds until the user's next open would be allowed by the rate."""
        ...


class UserRate(Protocol):
    """A per-user rate of some action (stream tickets, report requests)."""

    def take(self, user_id: UUID) -> bool:
        """True (and one action counted) when the user may act now."""
        ...

    def retry_after_seconds(self, user_id: UUID) -> int:
        """Seconds until the user's next action would be allowed."""
        ...


class StreamLifetimes(Protocol):
    """Ends a stream when its credential expires or its session is revoked, telling the client why."""

    def track(self, principal: Principal, stream: EventStream) -> Callable[[], None]:
        """Watch ``stream``; call the returned function when the stream is over."""
        ...


@runtime_checkable
class WatchAccess(Protocol):
    """Whether a caller may watch a group (``?watch=<kind>:<id>``): the application's rule for one kind."""

    async def may_watch(self, caller: Principal, group: Group) -> bool:
        """True when ``caller`` may receive ``group``'s events; False is answered like a missing resource."""
        ...


@runtime_checkable
class Memberships(Protocol):
    """Takes a user out of a group on every open stream, in order with the group's events."""

    async def end(self, user_id: UUID, group: Group) -> None:
        """``user_id``'s open streams stop receiving ``group`` after every event published to it so far.

        Each such stream is told which of its groups ended (``stream.unwatched``).
        """


class PresenceUnavailableError(Exception):
    """Presence cannot be read right now (its store is unreachable)."""


@attrs.frozen
class PresentMember:
    """A user connected to a group: how many streams they hold in it, and since when they have been present."""

    user_id: UUID
    streams: int
    since: datetime


@attrs.frozen
class PresencePage:
    """The exact number of users present in a group, and a page of them in user id order."""

    count: int
    members: tuple[PresentMember, ...] = ()
    next: UUID | None = None
    """The last member of this page when more follow: pass it as ``after`` for the next page."""
    version: int = 0
    """The group's presence version as read: the ``presence.*`` events of later versions change this answer."""


@runtime_checkable
class Presence(Protocol):
    """Who is connected to each group, across every process; raises :class:`PresenceUnavailableError` on reads."""

    def track(self, user_id: UUID, groups: Iterable[Group]) -> Callable[[], None]:
        """Count one open stream of ``user_id`` in each of ``groups``; call the returned function when it closes."""
        ...

    async def count(self, group: Group) -> int:
        """How many users are present in ``group`` (each once, however many streams they hold)."""
        ...

    async def members(self, group: Group, *, after: UUID | None, limit: int) -> PresencePage:
        """Up to ``limit`` members of ``group`` whose user id sorts after ``after``, and the count."""
        ...
