"""What each stream must receive, for the state machines that drive the brokers with groups.

The model keeps every publish in order and who was allowed in which group
when. From where a stream starts in each log (where it opened, or the id it
resumed from) it says what the stream must get from each: its user's events,
the broadcasts, and its groups' events up to its user's leave. A broker may
interleave the logs as it likes; within one log the run is exact.
"""

import uuid
from collections import defaultdict
from typing import Literal

import attrs

from domain.sse import Group, GroupKind
from infrastructure.streams.group_ids import group_order, split_id
from infrastructure.streams.signals import RESET_EVENT_TYPE, UNWATCHED_EVENT_TYPE
from tests.support.frames import Message

TEST_EVENT = "test.event"
USER: Literal["user"] = "user"
BROADCAST: Literal["broadcast"] = "broadcast"
#: A log a stream reads: its user's, the broadcasts', or one of its groups'.
Log = Group | Literal["user", "broadcast"]
#: In a group's run: the stream's ``stream.unwatched``, after which it gets nothing more of the group.
LEFT: Literal["left"] = "left"
Token = int | Literal["left"]


@attrs.frozen
class Published:
    """One publish, numbered ``n`` in publish order: an event, or a membership's end (``left``)."""

    n: int
    user: uuid.UUID | None
    group: Group | None
    left: uuid.UUID | None = None

    def log_for(self, user: uuid.UUID) -> Log | None:
        """The log through which a stream of ``user`` gets this event (None: it does not)."""
        if self.user is None and self.group is None:
            return BROADCAST
        if self.user == user:
            return USER  # the group's copy is skipped: the user's log has it
        return self.group


@attrs.frozen
class Cursor:
    """Where a stream is after one of its messages: the last event it has of each log, and its groups."""

    positions: dict[Log, int]
    groups: frozenset[Group]


@attrs.define(eq=False)
class Stream:
    """One stream as the machine opened it, and every message it read."""

    user: uuid.UUID
    groups: frozenset[Group]
    opened_at: int
    start: dict[Log, int]
    """Per log: the last event it need not receive (what it opened after, or resumed after)."""
    reset: str | None
    """The reason its ``stream.reset`` must give (None: it must get none)."""
    resumed_from: "tuple[Stream, int] | None" = None
    received: list[Message] = attrs.Factory(list)
    open: bool = True


def number(message: Message) -> int:
    n = message.data["n"]
    assert isinstance(n, int), message
    return n


def group_of(message: Message) -> Group:
    return Group(GroupKind(message.data["kind"]), str(message.data["id"]))


class Model:
    """Every publish in order, and the memberships the application allowed."""

    def __init__(self) -> None:
        self.published: list[Published] = []
        self.allowed: defaultdict[uuid.UUID, set[Group]] = defaultdict(set)
        self._changes: defaultdict[tuple[uuid.UUID, Group], list[tuple[int, bool]]] = defaultdict(list)

    @property
    def now(self) -> int:
        """The number of the last publish."""
        return len(self.published)

    def publish(self, user: uuid.UUID | None, group: Group | None) -> Published:
        event = Published(self.now + 1, user, group)
        self.published.append(event)
        return event

    def share(self, user: uuid.UUID, group: Group) -> None:
        self.allowed[user].add(group)
        self._changes[user, group].append((self.now, True))

    def unshare(self, user: uuid.UUID, group: Group) -> Published:
        leave = Published(self.now + 1, None, group, left=user)
        self.published.append(leave)
        self.allowed[user].discard(group)
        self._changes[user, group].append((leave.n, False))
        return leave

    def was_allowed(self, user: uuid.UUID, group: Group, n: int) -> bool:
        """Whether ``user`` was in ``group`` when event ``n`` was published."""
        allowed = False
        for since, now_allowed in self._changes[user, group]:
            if since >= n:
                break
            allowed = now_allowed
        return allowed

    # -- where streams start ------------------------------------------------
    def fresh(self, groups: frozenset[Group]) -> dict[Log, int]:
        """A new stream starts after everything published so far, in every log."""
        return dict.fromkeys((USER, BROADCAST, *groups), self.now)

    def resumed(self, cursor: Cursor, groups: frozenset[Group], user: uuid.UUID) -> tuple[dict[Log, int], str | None]:
        """Where a stream of ``user`` resuming at ``cursor`` into ``groups`` starts, and the reason of its reset if any.

        Its user's and the broadcasts' logs continue exactly. Its groups do too
        when they are the id's, except one its user left after the id (it was
        let in again since, not in between); otherwise the id does not say
        where it is in them. Such groups go on live (``groups_changed``).
        """
        start: dict[Log, int] = {USER: cursor.positions[USER], BROADCAST: cursor.positions[BROADCAST]}
        if groups == cursor.groups or not groups:
            start.update({group: cursor.positions[group] for group in groups})
            rejoined = {
                event.group
                for event in self.published
                if event.left == user and event.group in groups and event.n > cursor.positions[event.group]
            }
            start.update({group: self.now for group in rejoined if group is not None})
            return start, "groups_changed" if rejoined else None
        start.update(dict.fromkeys(groups, self.now))
        return start, "groups_changed"

    def cursor(self, stream: Stream, index: int) -> Cursor:
        """Where ``stream`` is after its message ``index`` (what its id says)."""
        positions = dict(stream.start)
        groups = set(stream.groups)
        for message in stream.received[: index + 1]:
            if message.event == TEST_EVENT:
                event = self.published[number(message) - 1]
                log = event.log_for(stream.user)
                assert log is not None
                positions[log] = event.n
            elif message.event == UNWATCHED_EVENT_TYPE:
                groups.discard(group_of(message))
                positions.pop(group_of(message), None)
        return Cursor(positions, frozenset(groups))

    @staticmethod
    def replayed(stream: Stream, index: int) -> bool:
        """Whether message ``index`` was replayed as the stream opened (an event published before)."""
        message = stream.received[index]
        return stream.resumed_from is not None and message.event == TEST_EVENT and number(message) <= stream.opened_at

    # -- what streams must have ---------------------------------------------
    def expected(self, stream: Stream) -> dict[Log, list[Token]]:
        """Per log, everything ``stream`` must receive by now, in order.

        Of a group: its events after the stream's start, except those also sent
        to the stream's user, until its user's first leave after the stream
        opened (a leave before that is replayed past: the application let the
        stream into the group when it opened).
        """
        runs: dict[Log, list[Token]] = {USER: [], BROADCAST: [], **{group: [] for group in stream.groups}}
        gone: set[Group] = set()
        for event in self.published:
            if event.left is not None:
                group = event.group
                assert group is not None
                if (
                    event.left == stream.user
                    and group in stream.groups
                    and group not in gone
                    and event.n > max(stream.start[group], stream.opened_at)
                ):
                    runs[group].append(LEFT)
                    gone.add(group)
                continue
            log = event.log_for(stream.user)
            if log is not None and log in runs and log not in gone and event.n > stream.start[log]:
                runs[log].append(event.n)
        return runs

    def received(self, stream: Stream) -> dict[Log, list[Token]]:
        """Per log, what ``stream`` got; fails on anything not addressed to it, or a misplaced signal."""
        runs: dict[Log, list[Token]] = {USER: [], BROADCAST: [], **{group: [] for group in stream.groups}}
        for index, message in enumerate(stream.received):
            if message.event == TEST_EVENT:
                event = self.published[number(message) - 1]
                log = event.log_for(stream.user)
                assert log is not None, f"{event} reached a stream of {stream.user}"
                assert log in runs, f"{event} reached a stream of {stream.user} in {stream.groups}"
                runs[log].append(event.n)
            elif message.event == UNWATCHED_EVENT_TYPE:
                assert message.data["user_id"] == str(stream.user), f"another user's leave: {message}"
                assert group_of(message) in runs, message
                runs[group_of(message)].append(LEFT)
            elif message.event == RESET_EVENT_TYPE:
                assert index == 0, f"a stream.reset after other messages: {message}"
                assert message.data["reason"] == stream.reset, f"expected reset {stream.reset}, got {message}"
            else:
                raise AssertionError(f"unexpected message {message}")
        if stream.reset is not None and stream.received:
            assert stream.received[0].event == RESET_EVENT_TYPE, f"no stream.reset ({stream.reset}) first"
        return runs

    def check(self, stream: Stream, *, complete: bool) -> None:
        """What ``stream`` got is, per log, what it must get (``complete``) or the start of it."""
        expected = self.expected(stream)
        for log, run in self.received(stream).items():
            wanted = expected[log] if complete else expected[log][: len(run)]
            assert run == wanted, f"stream of {stream.user} in {stream.groups}, log {log}: got {run}, want {wanted}"
        self._check_ids(stream)

    def check_members_only(self, stream: Stream, *, replayed_too: bool = False) -> None:
        """Every group event it got live was published while its user was in the group (``replayed_too``: all)."""
        for message in stream.received:
            if message.event != TEST_EVENT:
                continue
            event = self.published[number(message) - 1]
            if event.n <= stream.opened_at and not replayed_too:
                continue
            log = event.log_for(stream.user)
            if isinstance(log, Group):
                assert self.was_allowed(stream.user, log, event.n), f"{event} reached {stream.user}, not in {log}"

    def check_union(self, stream: Stream, *, complete: bool) -> None:
        """A resumed stream continues its parent exactly: together they have each event of a log once.

        For the user's and broadcast logs always, and for a group neither
        stream left, when the resumed one is in the id's groups.
        """
        assert stream.resumed_from is not None
        parent, index = stream.resumed_from
        before = [number(m) for m in parent.received[: index + 1] if m.event == TEST_EVENT]
        after = [number(m) for m in stream.received if m.event == TEST_EVENT]
        assert not set(before) & set(after), f"received twice across a resume: {set(before) & set(after)}"
        logs: list[Log] = [USER, BROADCAST]
        if stream.reset is None:
            logs += [
                g for g in stream.groups if not any(e.left == stream.user and e.group == g for e in self.published)
            ]
        for log in logs:
            whole = [
                e.n
                for e in self.published
                if e.left is None and e.log_for(stream.user) == log and e.n > parent.start[log]
            ]
            got = [n for n in before + after if self.published[n - 1].log_for(stream.user) == log]
            assert sorted(got) == (whole if complete else whole[: len(got)]), f"log {log}: {got} != {whole}"

    @staticmethod
    def _check_ids(stream: Stream) -> None:
        """Every id names exactly the groups the stream is in after that message."""
        groups = set(stream.groups)
        for message in stream.received:
            if message.event == UNWATCHED_EVENT_TYPE:
                groups.discard(group_of(message))
            fingerprint = group_order(frozenset(groups)).fingerprint if groups else None
            assert split_id(message.id)[1] == fingerprint, f"id {message.id} is not for {groups}"
