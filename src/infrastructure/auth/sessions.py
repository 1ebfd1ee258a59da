"""Session revocation that every process hears, and streams that end when their credential does."""

import asyncio
import heapq
import logging
import math
import time
from collections.abc import Callable, Iterable
from datetime import datetime

import attrs
from redis.asyncio import Redis

from application.ports import RevocationListener, RevocationUnavailableError, SessionRevocations
from application.principal import Principal
from domain.ports import EventStream
from infrastructure.brokers.redis.keys import RedisKeys
from infrastructure.brokers.redis.read_batch import ReadBatch
from infrastructure.persistence.revocations import StoredRevocations
from infrastructure.redis_deadline import redis_wait
from infrastructure.redis_errors import REDIS_FAILURE
from infrastructure.sse.wire_format import WireFormat
from infrastructure.streams.signals import EndNotice, end_frame

logger = logging.getLogger(__name__)


class MemorySessionRevocations:
    """Revocations of one process (the embedded default), kept in ``store`` across restarts when given."""

    def __init__(self, store: StoredRevocations | None = None) -> None:
        self._store = store
        self._revoked: dict[str, float] = {}
        #: (until, session id), soonest first: expired revocations are swept from the front.
        self._expiries: list[tuple[float, str]] = []
        self._listeners: list[RevocationListener] = []
        self._watched: Callable[[], Iterable[str]] = tuple

    async def revoke(self, session_id: str, *, until: datetime) -> None:
        if self._store is not None:
            await self._store.save(session_id, until)  # stored first: a failure changes nothing (503)
        self._remember(session_id, until.timestamp())
        self._notify(session_id)

    async def recall(self) -> None:
        """Take in the revocations stored before this process started."""
        if self._store is not None:
            for session_id, until in await self._store.unexpired():
                self._remember(session_id, until.timestamp())

    async def is_revoked(self, session_id: str) -> bool:
        # Checked on every authenticated request: one lookup, no sweep.
        until = self._revoked.get(session_id)
        return until is not None and until >= time.time()

    def _remember(self, session_id: str, until: float) -> None:
        """Record a revocation (the later end wins); expired ones are swept here, where writes are rare."""
        now = time.time()
        while self._expiries and self._expiries[0][0] < now:
            expired, sid = heapq.heappop(self._expiries)
            if self._revoked.get(sid) == expired:
                del self._revoked[sid]
        until = max(until, self._revoked.get(session_id, until))
        self._revoked[session_id] = until
        heapq.heappush(self._expiries, (until, session_id))

    def listen(self, listener: RevocationListener) -> None:
        self._listeners.append(listener)

    def watch(self, sessions: Callable[[], Iterable[str]]) -> None:
        self._watched = sessions

    def _notify(self, session_id: str) -> None:
        for listener in self._listeners:
            listener(session_id)


@attrs.frozen(kw_only=True)
class SessionRevoked:
    """The control channel's announcement of a revocation (JSON: no session id can split it)."""

    session_id: str
    until: datetime


#: KEYS: the revoked session's key. ARGV: its expiry (Unix ms), the revocation channel, the message.
#: The key and the shard channel share a hash tag, so this runs on a cluster as on a single Redis.
#: A revocation already in force that ends later is kept (PEXPIRETIME: -2 when there is none).
_REVOKE_SCRIPT = """
if tonumber(ARGV[1]) > redis.call('PEXPIRETIME', KEYS[1]) then
    redis.call('SET', KEYS[1], '1', 'PXAT', ARGV[1])
end
redis.call('SPUBLISH', ARGV[2], ARGV[3])
"""


class RedisSessionRevocations(MemorySessionRevocations):
    """Revocations in Redis: stored for as long as they last, announced on a control channel.

    A revocation is recorded in Redis first and takes effect here only once
    Redis has it: a logout during an outage fails (503) and changes nothing,
    so every process agrees and the client's retry succeeds once Redis is back.
    """

    def __init__(self, client: Redis, keys: RedisKeys, wire_format: WireFormat, *, timeout_seconds: float) -> None:
        super().__init__()
        self._client = client
        self._keys = keys
        self._wire_format = wire_format
        self._timeout = timeout_seconds
        self.channel = keys.revocation_channel
        self._revoke = client.register_script(_REVOKE_SCRIPT)
        self._reads = ReadBatch(client)

    async def revoke(self, session_id: str, *, until: datetime) -> None:
        expires_ms = max(int(until.timestamp() * 1000), int(time.time() * 1000) + 1000)
        try:
            async with redis_wait(self._timeout):
                await self._revoke(
                    keys=[self._keys.revoked_session(session_id)],
                    args=[
                        expires_ms,
                        self.channel,
                        self._wire_format.dumps(SessionRevoked(session_id=session_id, until=until)),
                    ],
                )
        except REDIS_FAILURE as error:
            # One script: either both commands ran or neither. A reply lost after it ran
            # leaves the revocation recorded; the client's retry then records it again.
            raise RevocationUnavailableError(type(error).__name__) from error
        self._remember(session_id, until.timestamp())
        self._notify(session_id)

    async def is_revoked(self, session_id: str) -> bool:
        """Revoked here or in Redis; while Redis is down or slow, what this process has heard.

        Every process hears revocations live, so the local record is complete
        except for revocations made while this process was cut off; failing
        open then keeps the service usable during a Redis outage.
        """
        if await super().is_revoked(session_id):
            return True
        try:
            async with redis_wait(self._timeout):
                # GET, not EXISTS: a cluster client runs EXISTS as a pipeline, outside its connection limit.
                return await self._reads.read("GET", self._keys.revoked_session(session_id)) is not None
        except REDIS_FAILURE as error:
            logger.warning("revocation check fell back to this process's record (%s)", type(error).__name__)
            return False

    async def resync(self) -> None:
        """After a pub/sub outage: revocations published meanwhile were not heard; ask Redis."""
        for session_id in tuple(self._watched()):
            if await self.is_revoked(session_id):
                self._notify(session_id)

    def on_control_message(self, message: SessionRevoked) -> None:
        """Delivered by the subscriber's pub/sub connection for :attr:`channel`."""
        self._remember(message.session_id, message.until.timestamp())
        self._notify(message.session_id)


class CredentialWatch:
    """Ends streams when their credential expires or their session is revoked, with a final event.

    The final ``stream.end`` event says why, so the client re-authenticates
    instead of reconnecting blindly; its reconnect with the old credential gets 401.
    Expiries are kept by the second: streams whose credentials run out within the same second share one
    timer (a reconnect storm brings thousands of credentials issued alike), and each ends within a
    second after its credential did.
    """

    def __init__(self, revocations: SessionRevocations) -> None:
        self._by_session: dict[str, set[EventStream]] = {}
        self._expiring: dict[int, tuple[set[EventStream], asyncio.TimerHandle]] = {}
        revocations.listen(self._revoked)
        revocations.watch(self.sessions)

    def sessions(self) -> frozenset[str]:
        """Sessions with an open stream here."""
        return frozenset(self._by_session)

    def track(self, principal: Principal, stream: EventStream) -> Callable[[], None]:
        """Watch ``stream``; call the returned function when the stream is over."""
        second = math.ceil(principal.expires_at.timestamp())
        expiring = self._expiring.get(second)
        if expiring is None:
            loop = asyncio.get_running_loop()
            timer = loop.call_at(loop.time() + max(0.0, second - time.time()), self._expire, second)
            expiring = self._expiring[second] = (set(), timer)
        expiring[0].add(stream)
        session = principal.session_id
        if session is not None:
            self._by_session.setdefault(session, set()).add(stream)

        def untrack() -> None:
            self._forget_expiry(second, stream)
            if session is not None:
                streams = self._by_session.get(session)
                if streams is not None:
                    streams.discard(stream)
                    if not streams:
                        del self._by_session[session]

        return untrack

    def _forget_expiry(self, second: int, stream: EventStream) -> None:
        expiring = self._expiring.get(second)
        if expiring is None:
            return  # it expired: the timer has gone off
        streams, timer = expiring
        streams.discard(stream)
        if not streams:
            timer.cancel()
            del self._expiring[second]

    def _expire(self, second: int) -> None:
        streams, _ = self._expiring.pop(second)
        farewell = end_frame(EndNotice.CREDENTIAL_EXPIRED)
        for stream in streams:
            stream.end(farewell)

    def _revoked(self, session_id: str) -> None:
        streams = self._by_session.pop(session_id, set())
        for stream in streams:
            stream.end(end_frame(EndNotice.SESSION_REVOKED))
        if streams:
            logger.info("ended %d stream(s) of a revoked session", len(streams))
