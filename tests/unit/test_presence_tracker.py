"""The presence tracker on the embedded store, on a clock the test moves (the property tests drive it further)."""

import uuid

from domain.events import DomainEvent, PresenceEvent
from domain.sse import ANNOUNCED_PRESENCE, Group, GroupKind
from infrastructure.presence import MemoryPresenceStore, PresenceTracker


class Recorded:
    def __init__(self) -> None:
        self.events: list[PresenceEvent] = []

    def subscribe(self, event_class: object, handler: object) -> None:
        raise AssertionError("the tracker only publishes")

    async def publish(self, event: DomainEvent) -> None:
        assert isinstance(event, PresenceEvent)
        self.events.append(event)


async def test_a_stream_in_two_groups_closes_in_both_at_one_instant() -> None:
    # Found by tests/property/test_presence_machines.py: both graces end at the same instant, and the heap
    # of graces compared the two groups (which have no order): the leave raised TypeError half done, with
    # the second group still counted (present for ever) and, in the stream's release, the stream left open.
    now = 0.0
    bus, store = Recorded(), MemoryPresenceStore()
    tracker = PresenceTracker(
        store, bus, announced=ANNOUNCED_PRESENCE, grace_seconds=5, timeout_seconds=30, clock=lambda: now
    )
    user, groups = uuid.uuid4(), [Group(GroupKind.REPORT, "a"), Group(GroupKind.REPORT, "b")]
    leave = tracker.track(user, groups)
    await tracker.sync()
    leave()
    now = 5.0
    await tracker.sync()
    changes = sorted((type(event).__name__, event.group_id) for event in bus.events)
    assert changes == [("PresenceJoined", "a"), ("PresenceJoined", "b"), ("PresenceLeft", "a"), ("PresenceLeft", "b")]
    assert [await store.count(group) for group in groups] == [0, 0]
