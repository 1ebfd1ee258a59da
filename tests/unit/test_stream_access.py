"""The use cases of the stream's edge, with hand-written fakes for their ports: no HTTP, no Redis, no timers."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from application.access import Authenticate, RevokeSession
from application.ports import (
    AdmissionRefusal,
    RevocationListener,
    RevocationUnavailableError,
    TicketStoreUnavailableError,
)
from application.principal import CredentialError, Principal
from application.refusals import RefusalKind, Refused
from application.streams import (
    BearerToken,
    IssuedTicket,
    IssueStreamCookie,
    IssueTicket,
    OpenedStream,
    OpenStream,
    StreamCookie,
    StreamCredential,
    StreamTicket,
)
from domain.ports import EventStream, SubscriberUnavailableError
from domain.sse import Group, SSECategory

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
USER = uuid.uuid4()
ALICE = Principal(user_id=USER, roles=frozenset(), expires_at=NOW + timedelta(hours=1), session_id="alice-1")
ADMIN = Principal(user_id=uuid.uuid4(), roles=frozenset({"admin"}), expires_at=NOW + timedelta(hours=1))


class FixedClock:
    def now(self) -> datetime:
        return NOW


class FakeCredentials:
    """Tokens are the strings "access:<name>" and "stream:<name>" for the principals it knows."""

    def __init__(self, **principals: Principal) -> None:
        self._principals = principals

    def _find(self, token: str, kind: str) -> Principal:
        prefix, _, name = token.partition(":")
        if prefix != kind or name not in self._principals:
            raise CredentialError("the token is invalid")
        return self._principals[name]

    async def verify(self, token: str) -> Principal:
        return self._find(token, "access")

    def verify_stream_token(self, token: str) -> Principal:
        return self._find(token, "stream")

    def issue_stream_token(self, principal: Principal) -> str:
        return f"stream:{principal.user_id}"


class FakeTickets:
    ttl_seconds = 15.0

    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.down_on_redeem = False
        self.tickets: dict[str, Principal] = {}

    async def issue(self, principal: Principal) -> str:
        if self.down:
            raise TicketStoreUnavailableError
        ticket = f"ticket-{len(self.tickets)}"
        self.tickets[ticket] = principal
        return ticket

    async def peek(self, ticket: str) -> Principal | None:
        if self.down:
            raise TicketStoreUnavailableError
        return self.tickets.get(ticket)

    async def redeem(self, ticket: str) -> Principal | None:
        if self.down or self.down_on_redeem:
            raise TicketStoreUnavailableError
        return self.tickets.pop(ticket, None)


class FakeRevocations:
    def __init__(self, *revoked: str, down: bool = False) -> None:
        self.revoked = dict.fromkeys(revoked, NOW)
        self.down = down

    async def revoke(self, session_id: str, *, until: datetime) -> None:
        if self.down:
            raise RevocationUnavailableError
        self.revoked[session_id] = until

    async def is_revoked(self, session_id: str) -> bool:
        return session_id in self.revoked

    def listen(self, listener: RevocationListener) -> None: ...

    def watch(self, sessions: Callable[[], Iterable[str]]) -> None: ...


@attrs.define
class FakeAdmission:
    refusal: AdmissionRefusal | None = None
    counted: int = 0

    def check(self, user_id: uuid.UUID) -> AdmissionRefusal | None:
        self.counted += self.refusal is None
        return self.refusal

    def cancel(self, user_id: uuid.UUID) -> None:
        self.counted -= 1

    def retry_after_seconds(self, user_id: uuid.UUID) -> int:
        return 7


class FakeStream:
    def __init__(self) -> None:
        self.closed = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b""

    def end(self, farewell: bytes | None = None) -> None: ...

    async def aclose(self) -> None:
        self.closed += 1


@attrs.define
class FakeSubscriber:
    down: bool = False
    calls: list[tuple[uuid.UUID, frozenset[SSECategory] | None, str | None]] = attrs.Factory(list)
    streams: list[FakeStream] = attrs.Factory(list)

    async def subscribe(
        self,
        user_id: uuid.UUID,
        *,
        categories: frozenset[SSECategory] | None = None,
        last_event_id: str | None = None,
        groups: frozenset[Group] = frozenset(),
    ) -> EventStream:
        await asyncio.sleep(0)  # a real broker answers later: concurrent opens overlap here
        if self.down:
            raise SubscriberUnavailableError("down")
        self.calls.append((user_id, categories, last_event_id))
        self.streams.append(FakeStream())
        return self.streams[-1]

    async def is_ready(self) -> bool:
        return not self.down


@attrs.define
class FakeLifetimes:
    tracked: list[Principal] = attrs.Factory(list)
    untracked: int = 0

    def track(self, principal: Principal, stream: EventStream) -> Callable[[], None]:
        self.tracked.append(principal)

        def untrack() -> None:
            self.untracked += 1

        return untrack


@attrs.define
class FakeRate:
    allowed: bool = True

    def take(self, user_id: uuid.UUID) -> bool:
        return self.allowed

    def retry_after_seconds(self, user_id: uuid.UUID) -> int:
        return 3


def open_stream(
    *,
    tickets: FakeTickets | None = None,
    revocations: FakeRevocations | None = None,
    admission: FakeAdmission | None = None,
    subscriber: FakeSubscriber | None = None,
    lifetimes: FakeLifetimes | None = None,
    opens_at_once: int = 64,
    **principals: Principal,
) -> OpenStream:
    return OpenStream(
        credentials=FakeCredentials(alice=ALICE, **principals),
        tickets=tickets or FakeTickets(),
        revocations=revocations or FakeRevocations(),
        admission=admission or FakeAdmission(),
        subscriber=subscriber or FakeSubscriber(),
        lifetimes=lifetimes or FakeLifetimes(),
        clock=FixedClock(),
        opens_at_once=opens_at_once,
    )


async def test_a_stream_opens_with_its_categories_and_resume_position_and_is_tracked_until_released() -> None:
    subscriber, lifetimes = FakeSubscriber(), FakeLifetimes()
    use_case = open_stream(subscriber=subscriber, lifetimes=lifetimes)
    categories = frozenset({SSECategory.REPORTS})
    opened = await use_case(BearerToken("access:alice"), categories=categories, last_event_id="1-0_0-0")
    assert isinstance(opened, OpenedStream)
    assert subscriber.calls == [(USER, categories, "1-0_0-0")]
    assert lifetimes.tracked == [ALICE]
    await opened.release()
    await opened.release()  # idempotent: the body's end and the response's background task both call it
    assert isinstance(opened.stream, FakeStream)
    assert opened.stream.closed == 2
    assert lifetimes.untracked == 2


@pytest.mark.parametrize(
    ("credential", "detail"),
    [
        (None, "a bearer token, a ticket or the stream cookie is required"),
        (BearerToken("access:mallory"), "the token is invalid"),
        (BearerToken("stream:alice"), "the token is invalid"),  # a stream token is no access token
        (StreamCookie("access:alice"), "the token is invalid"),  # nor the other way round
        (StreamTicket("unknown"), "the ticket is invalid, expired or already used"),
        (StreamTicket("t" * 129), "the ticket is invalid, expired or already used"),
        (BearerToken("access:expired"), "the token has expired"),
        (BearerToken("access:revoked"), "the session was revoked; sign in again"),
    ],
)
async def test_bad_credentials_are_refused_as_unauthenticated(credential: StreamCredential | None, detail: str) -> None:
    expired = attrs.evolve(ALICE, expires_at=NOW)
    revoked = attrs.evolve(ALICE, session_id="gone")
    subscriber = FakeSubscriber()
    use_case = open_stream(revocations=FakeRevocations("gone"), subscriber=subscriber, expired=expired, revoked=revoked)
    assert await use_case(credential) == Refused(RefusalKind.UNAUTHENTICATED, detail)
    assert subscriber.calls == []


async def test_a_ticket_opens_one_stream_and_the_cookie_opens_the_stream() -> None:
    tickets = FakeTickets()
    ticket = await tickets.issue(ALICE)
    use_case = open_stream(tickets=tickets)
    assert isinstance(await use_case(StreamTicket(ticket)), OpenedStream)
    assert isinstance(await use_case(StreamTicket(ticket)), Refused)  # spent
    assert isinstance(await use_case(StreamCookie(f"stream:{'alice'}")), OpenedStream)


@pytest.mark.parametrize(
    ("refusal", "expected"),
    [
        (AdmissionRefusal.USER_FULL, Refused(RefusalKind.TOO_MANY, AdmissionRefusal.USER_FULL.value)),
        (AdmissionRefusal.TOO_FAST, Refused(RefusalKind.TOO_MANY, AdmissionRefusal.TOO_FAST.value, 7)),
        (AdmissionRefusal.PROCESS_FULL, Refused(RefusalKind.UNAVAILABLE, AdmissionRefusal.PROCESS_FULL.value, 5)),
    ],
)
async def test_admission_refusals(refusal: AdmissionRefusal, expected: Refused) -> None:
    subscriber = FakeSubscriber()
    use_case = open_stream(admission=FakeAdmission(refusal), subscriber=subscriber)
    assert await use_case(BearerToken("access:alice")) == expected
    assert subscriber.calls == []


async def test_an_unreachable_broker_or_ticket_store_is_unavailable_with_retry_after() -> None:
    down_broker = open_stream(subscriber=FakeSubscriber(down=True))
    down_tickets = open_stream(tickets=FakeTickets(down=True))
    for outcome in (await down_broker(BearerToken("access:alice")), await down_tickets(StreamTicket("any"))):
        assert isinstance(outcome, Refused)
        assert outcome.kind is RefusalKind.UNAVAILABLE
        assert outcome.retry_after_seconds is not None


@pytest.mark.parametrize(
    "refusing",
    [
        *({"admission": FakeAdmission(refusal)} for refusal in AdmissionRefusal),
        {"subscriber": FakeSubscriber(down=True)},
    ],
    ids=[*(refusal.name for refusal in AdmissionRefusal), "broker down"],
)
async def test_a_ticket_refused_after_it_was_looked_at_stays_unspent(refusing: dict[str, Any]) -> None:
    tickets = FakeTickets()
    ticket = await tickets.issue(ALICE)
    assert isinstance(await open_stream(tickets=tickets, **refusing)(StreamTicket(ticket)), Refused)
    assert isinstance(await open_stream(tickets=tickets)(StreamTicket(ticket)), OpenedStream)  # e.g. on another process


async def test_of_concurrent_opens_with_one_ticket_one_opens_and_the_others_leave_nothing_counted() -> None:
    tickets, admission, subscriber = FakeTickets(), FakeAdmission(), FakeSubscriber()
    ticket = await tickets.issue(ALICE)
    use_case = open_stream(tickets=tickets, admission=admission, subscriber=subscriber)
    outcomes = await asyncio.gather(*(use_case(StreamTicket(ticket)) for _ in range(3)))
    assert len(subscriber.streams) == 3  # all three were admitted and subscribed before one redeemed
    assert [type(outcome) for outcome in outcomes].count(OpenedStream) == 1
    spent = Refused(RefusalKind.UNAUTHENTICATED, "the ticket is invalid, expired or already used")
    assert [outcome for outcome in outcomes if isinstance(outcome, Refused)] == [spent, spent]
    assert admission.counted == 1
    assert sorted(stream.closed for stream in subscriber.streams) == [0, 1, 1]


async def test_a_ticket_store_failing_at_the_redeem_leaves_nothing_counted() -> None:
    tickets, admission, subscriber = FakeTickets(), FakeAdmission(), FakeSubscriber()
    ticket = await tickets.issue(ALICE)
    tickets.down_on_redeem = True
    outcome = await open_stream(tickets=tickets, admission=admission, subscriber=subscriber)(StreamTicket(ticket))
    assert isinstance(outcome, Refused)
    assert outcome.kind is RefusalKind.UNAVAILABLE
    assert admission.counted == 0
    assert [stream.closed for stream in subscriber.streams] == [1]


class StuckTickets(FakeTickets):
    """A store whose redeem never answers."""

    def __init__(self) -> None:
        super().__init__()
        self.redeeming = asyncio.Event()

    async def redeem(self, ticket: str) -> Principal | None:
        self.redeeming.set()
        await asyncio.Event().wait()
        return None


async def test_a_client_leaving_while_its_ticket_is_redeemed_leaves_nothing_counted() -> None:
    tickets, admission, subscriber = StuckTickets(), FakeAdmission(), FakeSubscriber()
    ticket = await tickets.issue(ALICE)
    opening = asyncio.create_task(
        open_stream(tickets=tickets, admission=admission, subscriber=subscriber)(StreamTicket(ticket))
    )
    await tickets.redeeming.wait()
    opening.cancel()
    with pytest.raises(asyncio.CancelledError):
        await opening
    assert admission.counted == 0
    assert [stream.closed for stream in subscriber.streams] == [1]


async def test_authenticate_an_api_caller() -> None:
    authenticate = Authenticate(FakeCredentials(alice=ALICE), FakeRevocations())
    assert await authenticate("access:alice") == ALICE
    assert await authenticate("access:nobody") == Refused(RefusalKind.UNAUTHENTICATED, "the token is invalid")
    revoked = Authenticate(FakeCredentials(alice=ALICE), FakeRevocations("alice-1"))
    assert isinstance(await revoked("access:alice"), Refused)


async def test_tickets_are_issued_within_the_users_rate() -> None:
    tickets = FakeTickets()
    assert await IssueTicket(tickets, FakeRate())(ALICE) == IssuedTicket("ticket-0", 15)
    assert tickets.tickets == {"ticket-0": ALICE}
    too_fast = await IssueTicket(tickets, FakeRate(allowed=False))(ALICE)
    assert too_fast == Refused(RefusalKind.TOO_MANY, "too many stream tickets for this user; slow down", 3)
    down = await IssueTicket(FakeTickets(down=True), FakeRate())(ALICE)
    assert isinstance(down, Refused)
    assert down.kind is RefusalKind.UNAVAILABLE


def test_the_stream_cookie_lives_as_long_as_the_credential() -> None:
    issued = IssueStreamCookie(FakeCredentials(alice=ALICE), FixedClock())(ALICE)
    assert issued.token == f"stream:{USER}"
    assert issued.max_age_seconds == 3600


LASTS, LEEWAY = timedelta(days=31), timedelta(seconds=10)


def revoke_session(revocations: FakeRevocations) -> RevokeSession:
    return RevokeSession(revocations, FixedClock(), lasts=LASTS, leeway=LEEWAY)


async def test_a_session_is_revoked_by_its_owner_or_an_admin_only() -> None:
    revocations = FakeRevocations()
    revoke = revoke_session(revocations)
    assert await revoke(ALICE, "alice-1") is None
    forbidden = await revoke(ALICE, "someone-else")
    assert isinstance(forbidden, Refused)
    assert forbidden.kind is RefusalKind.FORBIDDEN
    assert await revoke(ADMIN, "someone-else") is None
    down = await revoke_session(FakeRevocations(down=True))(ALICE, "alice-1")
    assert isinstance(down, Refused)
    assert down.kind is RefusalKind.UNAVAILABLE


async def test_a_revocation_lasts_as_long_as_the_session_could_hand_out_tokens_and_they_pass() -> None:
    revocations = FakeRevocations()
    revoke = revoke_session(revocations)
    await revoke(ALICE, "alice-1")
    await revoke(ADMIN, "someone-else")
    assert revocations.revoked == {"alice-1": NOW + LASTS + LEEWAY, "someone-else": NOW + LASTS + LEEWAY}
    # A logging-out token that outlives the setting keeps its session revoked until it can no longer pass.
    long_lived = attrs.evolve(ALICE, expires_at=NOW + LASTS * 2)
    await revoke(long_lived, "alice-1")
    assert revocations.revoked["alice-1"] == long_lived.expires_at + LEEWAY
    endless = attrs.evolve(ALICE, session_id="alice-2", expires_at=datetime.max.replace(tzinfo=UTC))
    await revoke(endless, "alice-2")
    assert revocations.revoked["alice-2"] == endless.expires_at  # no further than the calendar goes


@pytest.mark.parametrize("session_id", ["", "s" * 256, "line\nbreak", "a/b", "zero\u200bwidth", "lone \ud800"])
async def test_a_session_id_that_cannot_be_one_names_no_session(session_id: str) -> None:
    revocations = FakeRevocations()
    refused = await revoke_session(revocations)(ADMIN, session_id)
    assert isinstance(refused, Refused)
    assert refused.kind is RefusalKind.NOT_FOUND
    assert revocations.revoked == {}


async def test_a_broker_down_at_the_subscribe_leaves_nothing_counted() -> None:
    tickets, admission = FakeTickets(), FakeAdmission()
    ticket = await tickets.issue(ALICE)
    use_case = open_stream(tickets=tickets, admission=admission, subscriber=FakeSubscriber(down=True))
    outcome = await use_case(StreamTicket(ticket))
    assert isinstance(outcome, Refused)
    assert outcome.kind is RefusalKind.UNAVAILABLE
    assert admission.counted == 0  # the client's retry is not refused as too fast


@attrs.define
class HeldSubscriber(FakeSubscriber):
    """Holds every subscribe until :attr:`go` is set: an open under way, for as long as the test says."""

    go: asyncio.Event = attrs.Factory(asyncio.Event)
    started: int = 0

    async def subscribe(self, user_id: uuid.UUID, **options: Any) -> EventStream:
        self.started += 1
        await self.go.wait()
        return await super().subscribe(user_id, **options)


async def test_opens_beyond_the_ones_at_once_wait_their_turn_and_then_all_open() -> None:
    subscriber = HeldSubscriber()
    use_case = open_stream(subscriber=subscriber, opens_at_once=2)
    opens = [asyncio.ensure_future(use_case(BearerToken("access:alice"))) for _ in range(3)]

    while subscriber.started < 2:
        await asyncio.sleep(0)
    for _ in range(10):  # turns of the loop in which a third open, were it let in, would have started
        await asyncio.sleep(0)
    assert subscriber.started == 2

    subscriber.go.set()
    opened = await asyncio.gather(*opens)
    assert subscriber.started == 3
    assert all(isinstance(result, OpenedStream) for result in opened)
