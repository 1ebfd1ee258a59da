"""Names of Herald's Redis keys and channels, and the positions stored in them."""

import re
from typing import NamedTuple
from uuid import UUID

import attrs


class Position(NamedTuple):
    """A log entry id (a Redis Stream id), ``<milliseconds>-<sequence>``; tuples order like the ids."""

    ms: int
    seq: int

    @classmethod
    def parse(cls, raw: bytes | str) -> "Position":
        text = raw.decode() if isinstance(raw, bytes) else raw
        ms, _, seq = text.partition("-")
        return cls(int(ms), int(seq or 0))

    def __str__(self) -> str:
        return f"{self.ms}-{self.seq}"


#: Before every entry: the position in a log the client has seen nothing of.
ORIGIN = Position(0, 0)

_CURSOR = re.compile(r"(\d{1,20})-(\d{1,20})_(\d{1,20})-(\d{1,20})")
#: Both parts of a Redis Stream entry id are unsigned 64-bit integers.
_MAX_PART = 2**64 - 1


class Cursor(NamedTuple):
    """What a client has seen: a position in its user log and one in the broadcast log.

    It is the SSE ``id:``, written ``<user position>_<broadcast position>``.
    """

    user: Position
    broadcast: Position

    @classmethod
    def parse(cls, raw: str) -> "Cursor | None":
        """The cursor in ``raw``, or None when it is not one."""
        match = _CURSOR.fullmatch(raw)
        if match is None:
            return None
        parts = [int(part) for part in match.groups()]
        if max(parts) > _MAX_PART:  # no entry id Redis could have issued
            return None
        return cls(Position(parts[0], parts[1]), Position(parts[2], parts[3]))

    def __str__(self) -> str:
        return f"{self.user}_{self.broadcast}"


@attrs.frozen
class RedisKeys:
    """Every key and channel name, derived from one prefix."""

    prefix: str

    @property
    def clock(self) -> str:
        """The last position handed out, shared by every log so positions order all events."""
        return f"{self.prefix}:clock"

    def attempt_fence(self, attempt: str) -> str:
        """Set by a retry: the publish attempt ``attempt`` was taken over and must do nothing if it still runs."""
        return f"{self.prefix}:fence:{attempt}"

    @property
    def broadcast_log(self) -> str:
        return f"{self.prefix}:stream:broadcast"

    @property
    def broadcast_channel(self) -> bytes:
        return f"{self.prefix}:live:broadcast".encode()

    def user_log(self, user_id: UUID) -> str:
        return f"{self.prefix}:stream:user:{user_id}"

    def user_channel(self, user_id: UUID) -> bytes:
        return f"{self.prefix}:live:user:{user_id}".encode()

    def ticket(self, fingerprint: str) -> str:
        """A stream ticket, named by its hash (the ticket itself is never stored)."""
        return f"{self.prefix}:ticket:{fingerprint}"

    def revoked_session(self, session_id: str) -> str:
        return f"{self.prefix}:revoked:{session_id}"

    @property
    def revocation_channel(self) -> bytes:
        """Where revocations are announced to every process."""
        return f"{self.prefix}:control:revoked".encode()

    def user_of_channel(self, channel: bytes) -> UUID | None:
        """The user a channel belongs to; None for the broadcast channel or a foreign name."""
        head = f"{self.prefix}:live:user:".encode()
        if not channel.startswith(head):
            return None
        try:
            return UUID(channel[len(head) :].decode())
        except ValueError:
            return None
