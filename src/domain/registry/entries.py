"""The registry of this service: the one place that says which domain event becomes which SSE event.

Add a mapping here (one entry, one line when the defaults fit) and the
container subscribes it, the property tests cover it and the catalogue lists it.
"""

from typing import Any
from uuid import UUID

import attrs

from domain.events import (
    AnnouncementPublished,
    PresenceEvent,
    PresenceJoined,
    PresenceLeft,
    ReportCompleted,
    ReportFailed,
    ReportProgressed,
    ReportRequested,
    TenantAnnouncementPublished,
)
from domain.registry.mapping import DomainToSSEMapping
from domain.registry.registry import EventRegistry
from domain.sse import GroupKind, SSECategory, to_everyone, to_group, user_field

REPORTS = SSECategory.REPORTS
OWNER = user_field("owner_id")
#: Everyone watching the report (``?watch=report:<id>``), besides its owner.
WATCHERS = to_group(GroupKind.REPORT, field="report_id")
#: The members of the group a presence event is about, whatever its kind.
PRESENT = to_group(kind_field="group_kind", field="group_id")


@attrs.frozen
class PresenceChange:
    """The payload of ``presence.joined`` and ``presence.left``: which group, and who came or went."""

    group_kind: str
    group_id: str
    user_id: UUID
    version: int
    """The group's presence version after this change: apply it only when newer than what you hold of the user
    (and than the ``version`` of the list ``GET /api/v1/presence/...`` gave)."""


def presence_change(event: PresenceEvent) -> dict[str, Any]:
    return {
        "group_kind": event.group_kind.value,
        "group_id": event.group_id,
        "user_id": event.user_id,
        "version": event.version,
    }


REGISTRY = EventRegistry(
    [
        DomainToSSEMapping(
            domain_event=ReportRequested,
            sse_event_type="report.requested",
            category=REPORTS,
            description="A report was accepted and is queued (to its owner and its watchers).",
            user_id_extractor=OWNER,
            group_extractor=WATCHERS,
        ),
        DomainToSSEMapping(
            domain_event=ReportProgressed,
            sse_event_type="report.progress",
            category=REPORTS,
            description="A report finished another generation step (to its owner and its watchers).",
            user_id_extractor=OWNER,
            group_extractor=WATCHERS,
            # The next step, or the outcome, supersedes it: not worth an outbox row per tick.
            ephemeral=True,
        ),
        DomainToSSEMapping(
            domain_event=ReportCompleted,
            sse_event_type="report.completed",
            category=REPORTS,
            description="A report is ready to download (to its owner and its watchers).",
            user_id_extractor=OWNER,
            group_extractor=WATCHERS,
        ),
        DomainToSSEMapping(
            domain_event=ReportFailed,
            sse_event_type="report.failed",
            category=REPORTS,
            description="Generation of a report failed (to its owner and its watchers).",
            user_id_extractor=OWNER,
            group_extractor=WATCHERS,
        ),
        DomainToSSEMapping(
            domain_event=AnnouncementPublished,
            sse_event_type="system.announcement",
            category=SSECategory.SYSTEM,
            description="An administrator's message to every user.",
            user_id_extractor=to_everyone,
        ),
        DomainToSSEMapping(
            domain_event=TenantAnnouncementPublished,
            sse_event_type="tenant.announcement",
            category=SSECategory.SYSTEM,
            description="An administrator's message to every member of their tenant.",
            user_id_extractor=None,
            group_extractor=to_group(GroupKind.TENANT, field="tenant"),
        ),
        DomainToSSEMapping(
            domain_event=PresenceJoined,
            sse_event_type="presence.joined",
            category=SSECategory.PRESENCE,
            description="A user's first stream in the group opened (to the group's members).",
            user_id_extractor=None,
            group_extractor=PRESENT,
            payload_extractor=presence_change,
            payload_type=PresenceChange,
            # Presence is live state, answered exactly by GET /api/v1/presence: nothing to store.
            ephemeral=True,
        ),
        DomainToSSEMapping(
            domain_event=PresenceLeft,
            sse_event_type="presence.left",
            category=SSECategory.PRESENCE,
            description="A user's last stream in the group closed, and stayed closed for the grace "
            "(to the group's members).",
            user_id_extractor=None,
            group_extractor=PRESENT,
            payload_extractor=presence_change,
            payload_type=PresenceChange,
            ephemeral=True,
        ),
    ]
)
