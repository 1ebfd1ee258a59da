"""Names of Herald's Redis keys and channels (hash-tagged so they shard), and the positions stored in them."""

import re
import zlib
from typing import NamedTuple
from uuid import UUID

import attrs
from redis.crc import key_slot

from domain.sse import Group
from infrastructure.streams.group_ids import GroupOrder, section, split_id, to36


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
_GROUP_POSITION = re.compile(r"([0-9a-z]{1,13})(?:-([0-9a-z]{1,13}))?")
#: Both parts of a Redis Stream entry id are unsigned 64-bit integers.
_MAX_PART = 2**64 - 1


def group_position_text(position: Position) -> str:
    """A position in a group's log as the id writes it: base 36, the sequence only when it is not 0."""
    return to36(position.ms) if not position.seq else f"{to36(position.ms)}-{to36(position.seq)}"


def parse_group_position(text: str) -> Position | None:
    """The position :func:`group_position_text` wrote; None when ``text`` is not one."""
    match = _GROUP_POSITION.fullmatch(text)
    if match is None:
        return None
    ms, seq = int(match[1], 36), int(match[2] or "0", 36)
    return Position(ms, seq) if max(ms, seq) <= _MAX_PART else None


class Cursor(NamedTuple):
    """What a client has seen: a position in its user log, one in the broadcast log, and one in each group's.

    It is the SSE ``id:``, written ``<user position>_<broadcast position>``,
    then, for a stream in groups, the groups' section
    (:mod:`~infrastructure.streams.group_ids`) with ``groups`` in ``order``.
    """

    user: Position
    broadcast: Position
    groups: tuple[Position, ...] = ()
    order: GroupOrder | None = None

    @classmethod
    def parse(cls, raw: str, order: GroupOrder | None = None) -> "tuple[Cursor, bool] | None":
        """The cursor in ``raw`` for a stream in ``order``'s groups, and whether its groups' positions are known.

        None when ``raw`` is not a cursor at all. When the id was given for
        other groups (or none), the groups' positions are ``ORIGIN`` and the
        flag is False: the id does not say where the client is in them.
        """
        base, fingerprint, parts = split_id(raw)
        match = _CURSOR.fullmatch(base)
        if match is None:
            return None
        numbers = [int(part) for part in match.groups()]
        if max(numbers) > _MAX_PART:  # no entry id Redis could have issued
            return None
        user, broadcast = Position(numbers[0], numbers[1]), Position(numbers[2], numbers[3])
        if order is None:
            return cls(user, broadcast), True
        groups = [parse_group_position(part) for part in parts]
        if fingerprint != order.fingerprint or len(groups) != len(order.groups) or None in groups:
            return cls(user, broadcast, (ORIGIN,) * len(order.groups), order), False
        return cls(user, broadcast, tuple(p for p in groups if p is not None), order), True

    def __str__(self) -> str:
        text = f"{self.user}_{self.broadcast}"
        return text + section(self.order, map(group_position_text, self.groups)) if self.order else text

    def id_line(self) -> bytes:
        """The ``id:`` line of the SSE message at this cursor (digits, letters and ``-_.``: nothing to escape)."""
        user, broadcast = self.user, self.broadcast
        if self.order is None:
            return f"id: {user.ms}-{user.seq}_{broadcast.ms}-{broadcast.seq}\n".encode()
        return f"id: {self}\n".encode()


#: Slots of a Redis Cluster (every key and shard channel hashes to one of them).
SLOTS = 16384
#: Users are spread over this many partitions. Each partition's keys and channels share one
#: hash tag, so everything one publish touches lives in one slot; with three primaries the
#: busiest holds six partitions of sixteen.
REDIS_PARTITIONS = 16


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
        object.__setattr__(self, "partition_tags", _spread_tags(self.prefix, REDIS_PARTITIONS))

    @property
    def broadcast_tag(self) -> str:
        return f"{self.prefix}.broadcast"

    @property
    def control_tag(self) -> str:
        return f"{self.prefix}.control"

    def user_tag(self, user_id: UUID) -> str:
        """The hash tag of the user's partition."""
        return self.partition_tags[user_id.int % REDIS_PARTITIONS]

    def group_tag(self, group: Group) -> str:
        """The hash tag of the group's partition: groups spread over the partitions as users do."""
        return self.partition_tags[zlib.crc32(str(group).encode()) % REDIS_PARTITIONS]

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

    def group_log(self, group: Group) -> str:
        return f"{self.prefix}:{{{self.group_tag(group)}}}:log:group:{group}"

    def group_channel(self, group: Group) -> bytes:
        return f"{self.prefix}:{{{self.group_tag(group)}}}:live:group:{group}".encode()

    def delivery_record(self, event_id: str) -> str:
        """What each process did with one event (a hash, a field per process), for delivery diagnostics.

        Spread over the partitions by the event's id, like the users' keys.
        """
        return f"{self.prefix}:{{{self.partition_tags[zlib.crc32(event_id.encode()) % REDIS_PARTITIONS]}}}:delivery:{event_id}"

    def presence_space(self, tag: str) -> str:
        """The start of every presence key of partition ``tag`` (:mod:`~infrastructure.presence.redis_scripts`)."""
        return f"{self.prefix}:{{{tag}}}:presence:"

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
