"""What a report's events promise a stream, and only that.

Durable events (``report.requested``, ``report.completed``) leave the outbox in
commit order; ephemeral ``report.progress`` ticks are published after their
own commits, in order among themselves, and may overtake a durable event still
waiting in the outbox (docs/architecture/persistence.md, "What a client can
rely on"). Every ``report.*`` event carries the report's ``version``: that,
not the arrival, orders the whole sequence.
"""

import json
from collections.abc import Iterable

from httpx_sse import ServerSentEvent

REPORT_SEQUENCE = ["report.requested", "report.progress", "report.progress", "report.progress", "report.completed"]
DURABLE = ("report.requested", "report.completed", "report.failed")


def report_sequence(events: Iterable[ServerSentEvent]) -> list[str]:
    """The ``report.*`` types in version order, once the orders the design does promise are checked.

    The events must be of one report.
    """
    reports = [(event.event, json.loads(event.data)) for event in events if event.event.startswith("report.")]
    assert len({data["report_id"] for _, data in reports}) <= 1, "events of several reports"
    versions = [data["version"] for _, data in reports]
    assert len(set(versions)) == len(versions), f"a version delivered twice: {versions}"
    durable = [data["version"] for kind, data in reports if kind in DURABLE]
    assert durable == sorted(durable), f"durable events out of commit order: {reports}"
    ticks = [data["version"] for kind, data in reports if kind not in DURABLE]
    assert ticks == sorted(ticks), f"ephemeral events out of publish order: {reports}"
    return [kind for kind, data in sorted(reports, key=lambda report: report[1]["version"])]
