"""The embedded broker with groups, driven by a state machine against the model (tests/support/group_model.py).

Each schedule opens, resumes, reconnects and closes streams in groups, ends
memberships and publishes to users, groups, both and everyone; every stream
must read what the model says, each event once, in order per log, and no
group's event published after its user's membership ended. Two schedules the
machine found are pinned below as expected failures, one per finding.
"""

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from infrastructure.brokers.memory import InMemoryBroker
from infrastructure.sse.wire_format import WireFormat
from infrastructure.streams.hub import StreamHub
from infrastructure.streams.memberships import GroupLeaves
from tests.support.group_machine import Brokers, GroupMachine, Tally


class EmbeddedGroupMachine(GroupMachine):
    tally = Tally()
    resumes_from_replays_in_several_groups = False  # test_replayed_ids_of_a_stream_in_two_groups_resume_exactly

    async def open_brokers(self) -> Brokers:
        # Heartbeats far apart: none wakes a reader mid-schedule, so hypothesis replays a schedule exactly.
        self.hub = StreamHub(inbox_capacity=10_000, heartbeat_seconds=3600)
        broker = InMemoryBroker(self.hub, WireFormat(), retention=1000, max_retained_users=100)
        return Brokers(broker, broker, GroupLeaves(broker))

    async def close_brokers(self) -> None:
        await self.hub.aclose()


def test_embedded_streams_in_groups_get_exactly_what_their_memberships_allow() -> None:
    # As many schedules as the profile's examples (make check tries fewer), each of up to 40 steps.
    EmbeddedGroupMachine.tally = Tally()
    run_state_machine_as_test(
        EmbeddedGroupMachine,
        settings=settings(stateful_step_count=40, suppress_health_check=[HealthCheck.too_slow]),
    )
    print(f"\nembedded group machine: {EmbeddedGroupMachine.tally}")


class ResumingFromReplays(EmbeddedGroupMachine):
    resumes_from_replays_in_several_groups = True


def test_replayed_ids_of_a_stream_in_two_groups_resume_exactly() -> None:
    machine = ResumingFromReplays()  # the schedule hypothesis shrank this failure to
    try:
        machine.start_with_members(members=frozenset({(0, 0), (0, 1)}))
        machine.open_stream(user=0, wanted=None, resume=None)
        machine.drain_and_check()
        machine.close_stream(pick=0, abandon=False)
        machine.open_stream(user=0, wanted=None, resume=None)
        machine.publish(audience="group", user=0, group=0)  # to g0 alone
        machine.open_stream(user=0, wanted=None, resume=0)  # replays it...
        machine.close_stream(pick=0, abandon=False)
        machine.reconnect(pick=0, abandon=False)  # ...and resuming from its id replays it again
        machine.drain_and_check()
    finally:
        machine.failed = True
        machine.teardown()


class MembersOnlyOnReplay(EmbeddedGroupMachine):
    members_only_on_replay = True


def test_a_resume_after_a_reshare_replays_nothing_published_while_out_of_the_group() -> None:
    machine = MembersOnlyOnReplay()  # the schedule hypothesis shrank this failure to
    try:
        machine.resume_after_a_reshare()
    finally:
        machine.failed = True
        machine.teardown()
