"""Single-use stream tickets: how a browser opens EventSource without a long-lived token in the URL."""

import hashlib
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from redis.asyncio import Redis

from application.ports import Clock, TicketStoreUnavailableError
from application.principal import Principal
from infrastructure.brokers.redis.keys import RedisKeys
from infrastructure.redis_deadline import redis_wait
from infrastructure.redis_errors import REDIS_FAILURE
from infrastructure.sse.wire_format import WireFormat


def _fingerprint(ticket: str) -> str:
    # Stores keep a hash, so reading the store (or a Redis dump) yields no usable ticket.
    return hashlib.sha256(ticket.encode()).hexdigest()


def new_ticket() -> str:
    """An unguessable ticket (256 bits)."""
    return secrets.token_urlsafe(32)


class MemoryTicketStore:
    """Tickets of one process (the embedded default), bounded in number."""

    def __init__(self, clock: Clock, *, ttl_seconds: float, max_tickets: int = 100_000) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._ttl = timedelta(seconds=ttl_seconds)
        self._max = max_tickets
        self._tickets: OrderedDict[str, tuple[datetime, Principal]] = OrderedDict()

    async def issue(self, principal: Principal) -> str:
        self._purge()
        ticket = new_ticket()
        self._tickets[_fingerprint(ticket)] = (self._clock.now() + self._ttl, principal)
        while len(self._tickets) > self._max:
            self._tickets.popitem(last=False)
        return ticket

    async def peek(self, ticket: str) -> Principal | None:
        return self._unexpired(self._tickets.get(_fingerprint(ticket)))

    async def redeem(self, ticket: str) -> Principal | None:
        return self._unexpired(self._tickets.pop(_fingerprint(ticket), None))

    def _unexpired(self, entry: tuple[datetime, Principal] | None) -> Principal | None:
        if entry is None or entry[0] < self._clock.now():
            return None
        return entry[1]

    def _purge(self) -> None:
        now = self._clock.now()
        while self._tickets:
            key, (expires, _) = next(iter(self._tickets.items()))
            if expires >= now:
                return
            del self._tickets[key]


class RedisTicketStore:
    """Tickets in Redis, so a ticket issued by one process opens a stream on another."""

    def __init__(
        self, client: Redis, keys: RedisKeys, wire_format: WireFormat, *, ttl_seconds: float, timeout_seconds: float
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._client = client
        self._keys = keys
        self._wire_format = wire_format
        self._timeout = timeout_seconds

    def _key(self, ticket: str) -> str:
        return self._keys.ticket(_fingerprint(ticket))

    async def issue(self, principal: Principal) -> str:
        ticket = new_ticket()
        ttl_ms = max(1, int(self.ttl_seconds * 1000))
        try:
            async with redis_wait(self._timeout):
                await self._client.set(self._key(ticket), self._wire_format.dumps(principal), px=ttl_ms, nx=True)
        except REDIS_FAILURE as error:
            raise TicketStoreUnavailableError(type(error).__name__) from error
        return ticket

    async def peek(self, ticket: str) -> Principal | None:
        return await self._read(self._client.get, ticket)

    async def redeem(self, ticket: str) -> Principal | None:
        return await self._read(self._client.getdel, ticket)  # atomic: a ticket opens one stream only

    async def _read(self, command: Callable[[str], Awaitable[bytes | str | None]], ticket: str) -> Principal | None:
        try:
            async with redis_wait(self._timeout):
                raw = await command(self._key(ticket))
        except REDIS_FAILURE as error:
            raise TicketStoreUnavailableError(type(error).__name__) from error
        return None if raw is None else self._wire_format.loads(raw, Principal)
