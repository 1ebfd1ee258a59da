"""Names of Herald's Redis keys and channels (hash-tagged so they shard), and the positions stored in them."""

import re
from typing import NamedTuple
from uuid import UUID

import attrs
from redis.crc import key_slot


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

    def id_line(self) -> bytes:
        """The ``id:`` line of the SSE message at this cursor (digits only: nothing to escape)."""
        user, broadcast = self.user, self.broadcast
        return f"id: {user.ms}-{user.seq}_{broadcast.ms}-{broadcast.seq}\n".encode()


#: Slots of a Redis Cluster (every key and shard channel hashes to one of them).
SLOTS = 16384
#: Users are spread over this many partitions. Each partition's keys and channels share one
#: hash tag, so everything one publish touches lives in one slot; with three primaries the
#: busiest holds six partitions of sixteen.
PARTITIONS = 16


def _spread_tags(prefix: str, count: int) -> tuple[str, ...]:
    """One hash tag per partition, each hashing near the middle of its own equal share of the slots.

    Evenly spread slots keep partitions apart on any cluster whose primaries own
    contiguous, equal ranges (what ``redis-cli --cluster create`` makes).
    """
    tags = []
    for partition in range(count):
        middle = (2 * partition + 1) * SLOTS // (2 * count)
        window = max(1, SLOTS // (8 * count))
        attempt = 0
        while abs(key_slot(f"{prefix}.{partition}.{attempt}".encode()) - middle) > window:
            attempt += 1
        tags.append(f"{prefix}.{partition}.{attempt}")
    return tuple(tags)


@attrs.frozen
class RedisKeys:
    """Every key and channel name, derived from one prefix.

    Names carry a hash tag (``{...}``): a user's log and channel share their
    partition's tag; broadcasts and revocations have tags of their own. A
    publish call therefore touches one slot, on a single Redis as on a cluster.
    """

    prefix: str
    partition_tags: tuple[str, ...] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "partition_tags", _spread_tags(self.prefix, PARTITIONS))

    @property
    def broadcast_tag(self) -> str:
        return f"{self.prefix}.broadcast"

    @property
    def control_tag(self) -> str:
        return f"{self.prefix}.control"

    def user_tag(self, user_id: UUID) -> str:
        """The hash tag of the user's partition."""
        return self.partition_tags[user_id.int % PARTITIONS]

    def attempt_fence(self, attempt: str, tag: str) -> str:
        """Set by a retry: the publish attempt ``attempt`` was taken over and must do nothing if it still runs.

        One per slot the attempt touched (``tag``), so a script only ever reads keys of its own slot.
        """
        return f"{self.prefix}:{{{tag}}}:fence:{attempt}"

    @property
    def broadcast_log(self) -> str:
        return f"{self.prefix}:{{{self.broadcast_tag}}}:log:broadcast"

    @property
    def broadcast_channel(self) -> bytes:
        return f"{self.prefix}:{{{self.broadcast_tag}}}:live:broadcast".encode()

    def user_log(self, user_id: UUID) -> str:
        return f"{self.prefix}:{{{self.user_tag(user_id)}}}:log:user:{user_id}"

    def user_channel(self, user_id: UUID) -> bytes:
        return f"{self.prefix}:{{{self.user_tag(user_id)}}}:live:user:{user_id}".encode()

    def ticket(self, fingerprint: str) -> str:
        """A stream ticket, named by its hash (the ticket itself is never stored).

        No tag: each ticket is one key used alone, so tickets spread over every slot.
        """
        return f"{self.prefix}:ticket:{fingerprint}"

    def revoked_session(self, session_id: str) -> str:
        return f"{self.prefix}:{{{self.control_tag}}}:revoked:{session_id}"

    @property
    def revocation_channel(self) -> bytes:
        """Where revocations are announced to every process (the slot of :meth:`revoked_session`)."""
        return f"{self.prefix}:{{{self.control_tag}}}:control:revoked".encode()
