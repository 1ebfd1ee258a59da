"""Use cases of the stream's edge: opening a stream, and the credentials browsers open it with.

Opening a stream is the service's main policy: a credential (bearer token,
single-use ticket or stream cookie) names the caller; the caller's session
must be live and its credential unexpired; admission limits how many streams
a user and the process hold and how fast a user opens them; the subscription
starts at the resume position, with the categories asked for, in the caller's
tenant's group and in each group it watches that the application lets it see;
the stream lives until its credential expires or its session is revoked.

A watch is allowed after the subscription is registered, not before: a
membership that ends after the check is ended on the stream by the
``stream.unwatched`` that follows it in the group, and one that ended before
fails the check, so no moment is left in between.

A ticket is spent only by a stream that opens: it is looked at to name the
caller, and redeemed once the subscription is registered, so a refusal (a
limit, an unavailable broker) leaves it for a retry on another process.
"""

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import ClassVar
from uuid import UUID

import attrs

from application.access import live_session
from application.ports import (
    AdmissionRefusal,
    Clock,
    Credentials,
    Presence,
    SessionRevocations,
    StreamAdmission,
    StreamLifetimes,
    TicketStore,
    TicketStoreUnavailableError,
    UserRate,
    WatchAccess,
)
from application.ports.unit_of_work import StorageUnavailableError
from application.principal import CredentialError, CredentialsUnavailableError, Principal
from application.refusals import UNAVAILABLE, RefusalKind, Refused, keys_unavailable, over_rate, unauthenticated
from domain.ports import EventStream, SSESubscriberProtocol, SubscriberUnavailableError
from domain.sse import Group, GroupKind, SSECategory

#: Longer tickets are refused without a look-up: Herald's own are far shorter.
MAX_TICKET_LENGTH = 128
#: The longest ``Last-Event-ID`` taken: room for the id of a stream in its tenant's group and
#: ``MAX_WATCHES_CEILING`` watched groups, whichever broker wrote it (a property test holds both to it).
MAX_LAST_EVENT_ID_LENGTH = 512
#: The most groups a stream may watch, whatever ``HERALD_SSE_MAX_WATCHES`` says.
MAX_WATCHES_CEILING = 16
#: Opens under way at once by default (``HERALD_SSE_OPENS_AT_ONCE``).
OPENS_AT_ONCE = 64
_UNUSABLE_TICKET = "the ticket is invalid, expired or already used"


@attrs.frozen
class BearerToken:
    """An access token from the ``Authorization`` header."""

    token: str


@attrs.frozen
class StreamTicket:
    """A single-use ticket from the query string."""

    ticket: str


@attrs.frozen
class StreamCookie:
    """The stream-only token from the HttpOnly cookie."""

    token: str


StreamCredential = BearerToken | StreamTicket | StreamCookie


@attrs.frozen
class OpenedStream:
    """A registered subscription; call :attr:`release` (idempotent) when the response is over."""

    stream: EventStream
    release: Callable[[], Awaitable[None]]


def _stay() -> None:
    """Leave nothing: presence is not counted."""


class OpenStream:
    """Open the caller's stream, or say why not; a stream that opens is present in each of its groups."""

    refuses: ClassVar[frozenset[RefusalKind]] = frozenset(
        {
            RefusalKind.INVALID,
            RefusalKind.UNAUTHENTICATED,
            RefusalKind.NOT_FOUND,
            RefusalKind.TOO_MANY,
            RefusalKind.UNAVAILABLE,
        }
    )

    def __init__(
        self,
        *,
        credentials: Credentials,
        tickets: TicketStore,
        revocations: SessionRevocations,
        admission: StreamAdmission,
        subscriber: SSESubscriberProtocol,
        lifetimes: StreamLifetimes,
        clock: Clock,
        watch_access: Mapping[GroupKind, WatchAccess] | None = None,
        max_watches: int = MAX_WATCHES_CEILING,
        presence: Presence | None = None,
        opens_at_once: int = OPENS_AT_ONCE,
    ) -> None:
        self._presence = presence
        self._opening = asyncio.Semaphore(opens_at_once)
        self._watch_access = dict(watch_access or {})
        self._max_watches = min(max_watches, MAX_WATCHES_CEILING)
        self._credentials = credentials
        self._tickets = tickets
        self._revocations = revocations
        self._admission = admission
        self._subscriber = subscriber
        self._lifetimes = lifetimes
        self._clock = clock

    async def __call__(
        self,
        credential: StreamCredential | None,
        *,
        categories: frozenset[SSECategory] | None = None,
        last_event_id: str | None = None,
        watches: Collection[Group] = (),
    ) -> OpenedStream | Refused:
        """The subscription is registered before this returns: nothing published afterwards is missed.

        At most ``opens_at_once`` opens are under way at a time; the others wait their turn. When the
        clients of a stopped replica all come back at once, the work of opening their streams is then
        spread out, and the streams already open here keep getting their events meanwhile.
        """
        watched = frozenset(watches)
        if (unwatchable := self._unwatchable(watched)) is not None:
            return unwatchable  # before the credential is looked at: a ticket stays unspent
        async with self._opening:
            return await self._open(credential, categories, last_event_id, watched)

    async def _open(
        self,
        credential: StreamCredential | None,
        categories: frozenset[SSECategory] | None,
        last_event_id: str | None,
        watched: frozenset[Group],
    ) -> OpenedStream | Refused:
        caller = await self._caller(credential)
        if isinstance(caller, Refused):
            return caller
        groups = watched | caller.groups
        refused = self._admit(caller.user_id)
        if refused is not None:
            return refused
        try:
            stream = await self._subscriber.subscribe(
                caller.user_id, categories=categories, last_event_id=last_event_id, groups=groups
            )
        except SubscriberUnavailableError:
            self._admission.cancel(caller.user_id)  # not opened: the retry must not find its rate spent
            return UNAVAILABLE
        if watched:
            try:
                hidden = await self._hidden(caller, watched)
            except BaseException:
                await self._abandon(caller.user_id, stream)
                raise
            if hidden is not None:
                await self._abandon(caller.user_id, stream)
                return hidden
        try:
            spent_elsewhere = await self._spend(credential)
        except BaseException:  # cancelled: the client left while its ticket was being redeemed
            await self._abandon(caller.user_id, stream)
            raise
        if spent_elsewhere is not None:
            await self._abandon(caller.user_id, stream)
            return spent_elsewhere
        untrack = self._lifetimes.track(caller, stream)
        leave = self._presence.track(caller.user_id, groups) if self._presence is not None else _stay

        async def release() -> None:
            untrack()
            leave()
            await stream.aclose()

        return OpenedStream(stream, release)

    def _unwatchable(self, watched: frozenset[Group]) -> Refused | None:
        """Why the watches cannot be asked for by anyone (None: they can)."""
        if len(watched) > self._max_watches:
            return Refused(RefusalKind.INVALID, f"a stream may watch at most {self._max_watches} groups")
        for group in watched:
            if group.kind not in self._watch_access:
                kinds = ", ".join(sorted(kind.value for kind in self._watch_access)) or "none"
                return Refused(RefusalKind.INVALID, f"{group.kind.value} groups cannot be watched; watchable: {kinds}")
        return None

    async def _hidden(self, caller: Principal, watched: frozenset[Group]) -> Refused | None:
        """A refusal when the caller may not see one of the watched groups (answered as if it did not exist)."""
        try:
            for group in sorted(watched, key=str):
                if not await self._watch_access[group.kind].may_watch(caller, group):
                    return Refused(RefusalKind.NOT_FOUND, f"there is no {group.kind.value} {group.id} to watch")
        except StorageUnavailableError:
            return UNAVAILABLE
        return None

    async def _caller(self, credential: StreamCredential | None) -> Principal | Refused:
        try:
            match credential:
                case BearerToken(token):
                    principal = await self._credentials.verify(token)
                case StreamTicket(ticket):
                    holder = await self._tickets.peek(ticket) if len(ticket) <= MAX_TICKET_LENGTH else None
                    if holder is None:
                        return unauthenticated(_UNUSABLE_TICKET)
                    principal = holder
                case StreamCookie(token):
                    principal = self._credentials.verify_stream_token(token)
                case None:
                    return unauthenticated("a bearer token, a ticket or the stream cookie is required")
        except CredentialError as error:
            return unauthenticated(str(error))
        except TicketStoreUnavailableError:
            return UNAVAILABLE
        except CredentialsUnavailableError as error:
            return keys_unavailable(error.retry_after_seconds)
        now = self._clock.now()
        # The verification leeway is for clock skew on API calls; a stream opens on the token's own times
        # (and would end at once after its expiry).
        if principal.expires_at <= now:
            return unauthenticated("the token has expired")
        if principal.not_before is not None and principal.not_before > now:
            return unauthenticated("the token is not valid yet")
        return await live_session(principal, self._revocations)

    def _admit(self, user_id: UUID) -> Refused | None:
        refusal = self._admission.check(user_id)
        if refusal is AdmissionRefusal.PROCESS_FULL:
            return Refused(RefusalKind.UNAVAILABLE, refusal.value, retry_after_seconds=5)
        if refusal is AdmissionRefusal.USER_FULL:
            return Refused(RefusalKind.TOO_MANY, refusal.value)
        if refusal is AdmissionRefusal.TOO_FAST:
            return Refused(RefusalKind.TOO_MANY, refusal.value, self._admission.retry_after_seconds(user_id))
        return None

    async def _spend(self, credential: StreamCredential | None) -> Refused | None:
        """Redeem a ticket for the stream that is opening; a refusal when another open spent it first."""
        if not isinstance(credential, StreamTicket):
            return None
        try:
            holder = await self._tickets.redeem(credential.ticket)
        except TicketStoreUnavailableError:
            return UNAVAILABLE
        return None if holder is not None else unauthenticated(_UNUSABLE_TICKET)

    async def _abandon(self, user_id: UUID, stream: EventStream) -> None:
        """A stream admitted and subscribed does not open after all: nothing of it may stay counted."""
        self._admission.cancel(user_id)
        await stream.aclose()


@attrs.frozen
class IssuedTicket:
    """A single-use credential for opening one stream within ``expires_in`` seconds."""

    ticket: str
    expires_in: int


class IssueTicket:
    """A ticket for ``EventSource``, which cannot send a header: a long-lived token never goes into a URL."""

    refuses: ClassVar[frozenset[RefusalKind]] = frozenset({RefusalKind.TOO_MANY, RefusalKind.UNAVAILABLE})

    def __init__(self, tickets: TicketStore, rate: UserRate) -> None:
        self._tickets = tickets
        self._rate = rate

    async def __call__(self, caller: Principal) -> IssuedTicket | Refused:
        if too_fast := over_rate(self._rate, caller.user_id, "too many stream tickets for this user; slow down"):
            return too_fast
        try:
            ticket = await self._tickets.issue(caller)
        except TicketStoreUnavailableError:
            return UNAVAILABLE
        return IssuedTicket(ticket, int(self._tickets.ttl_seconds))


@attrs.frozen
class StreamCookieIssued:
    """The stream-only token for the HttpOnly cookie, and how long the cookie should live."""

    token: str
    max_age_seconds: int


class IssueStreamCookie:
    """A stream-only credential for the browser's cookie: a leaked cookie cannot call the rest of the API."""

    refuses: ClassVar[frozenset[RefusalKind]] = frozenset()

    def __init__(self, credentials: Credentials, clock: Clock) -> None:
        self._credentials = credentials
        self._clock = clock

    def __call__(self, caller: Principal) -> StreamCookieIssued:
        max_age = max(0, int((caller.expires_at - self._clock.now()).total_seconds()))
        return StreamCookieIssued(self._credentials.issue_stream_token(caller), max_age)
