"""CredentialWatch: a stream ends when its credential does (its expiry shared with others of the same second)."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from application.principal import Principal
from infrastructure.auth.sessions import CredentialWatch, MemorySessionRevocations
from infrastructure.streams.signals import EndNotice


def reasons(stream: "Stream") -> list[str]:
    """Why each farewell frame said the stream ended."""
    return [json.loads(farewell.split(b"data: ", 1)[1])["reason"] for farewell in stream.farewells if farewell]


class Stream:
    """An open stream as the watch sees it: something it can end, once."""

    def __init__(self) -> None:
        self.ended = asyncio.Event()
        self.farewells: list[bytes | None] = []

    def __aiter__(self) -> AsyncIterator[bytes]:
        raise NotImplementedError

    def end(self, farewell: bytes | None = None) -> None:
        self.farewells.append(farewell)
        self.ended.set()

    async def aclose(self) -> None:
        pass


def expiring_in(seconds: float, session: str | None = None) -> Principal:
    return Principal(
        user_id=uuid.uuid4(),
        roles=frozenset(),
        expires_at=datetime.now(UTC) + timedelta(seconds=seconds),
        session_id=session,
    )


async def test_streams_end_with_their_credential_in_order_and_an_untracked_one_is_left_alone() -> None:
    watch = CredentialWatch(MemorySessionRevocations())
    first, untracked, later = Stream(), Stream(), Stream()
    soon = expiring_in(0.1)
    watch.track(soon, first)
    watch.track(soon, untracked)()  # its stream ended before its credential did
    watch.track(expiring_in(1.5), later)

    await asyncio.wait_for(first.ended.wait(), timeout=5)
    assert reasons(first) == [EndNotice.CREDENTIAL_EXPIRED.value]
    assert not later.ended.is_set()  # a later second: not yet
    await asyncio.wait_for(later.ended.wait(), timeout=5)
    assert reasons(later) == [EndNotice.CREDENTIAL_EXPIRED.value]
    assert untracked.farewells == []


async def test_a_stream_tracked_after_its_credential_expired_ends_at_once() -> None:
    watch = CredentialWatch(MemorySessionRevocations())
    stream = Stream()
    watch.track(expiring_in(-2), stream)
    await asyncio.wait_for(stream.ended.wait(), timeout=5)
    assert reasons(stream) == [EndNotice.CREDENTIAL_EXPIRED.value]


async def test_a_revoked_session_ends_its_streams_and_not_the_others() -> None:
    revocations = MemorySessionRevocations()
    watch = CredentialWatch(revocations)
    revoked, other = Stream(), Stream()
    watch.track(expiring_in(60, session="s-1"), revoked)
    watch.track(expiring_in(60, session="s-2"), other)
    assert watch.sessions() == {"s-1", "s-2"}

    await revocations.revoke("s-1", until=datetime.now(UTC) + timedelta(minutes=5))

    await asyncio.wait_for(revoked.ended.wait(), timeout=5)
    assert reasons(revoked) == [EndNotice.SESSION_REVOKED.value]
    assert other.farewells == []
