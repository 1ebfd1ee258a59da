"""Stream admission: an open it admitted but that did not happen (a ticket spent meanwhile) no longer counts."""

import uuid

from application.ports import AdmissionRefusal
from infrastructure.streams.admission import StreamLimits
from infrastructure.streams.hub import StreamHub


def admission(opens_per_minute: int) -> StreamLimits:
    hub = StreamHub(inbox_capacity=10, heartbeat_seconds=60)
    return StreamLimits(hub, max_streams=10, max_streams_per_user=10, opens_per_minute=opens_per_minute)


def test_a_cancelled_open_gives_its_place_in_the_rate_back() -> None:
    limits, user = admission(opens_per_minute=1), uuid.uuid4()
    assert limits.check(user) is None
    limits.cancel(user)
    assert limits.check(user) is None
    assert limits.check(user) is AdmissionRefusal.TOO_FAST


def test_cancelling_never_raises_the_rate_above_its_burst() -> None:
    limits, user = admission(opens_per_minute=1), uuid.uuid4()
    limits.cancel(user)  # nothing was counted for this user
    assert limits.check(user) is None
    limits.cancel(user)
    limits.cancel(user)
    assert limits.check(user) is None
    assert limits.check(user) is AdmissionRefusal.TOO_FAST
