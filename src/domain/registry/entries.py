"""The registry of this service: the one place that says which domain event becomes which SSE event.

Add a mapping here (one entry, one line when the defaults fit) and the
container subscribes it, the property tests cover it and the catalogue lists it.
"""

from domain.events import (
    AnnouncementPublished,
    ReportCompleted,
    ReportFailed,
    ReportProgressed,
    ReportRequested,
)
from domain.registry.mapping import DomainToSSEMapping
from domain.registry.registry import EventRegistry
from domain.sse import SSECategory, to_everyone, user_field

REPORTS = SSECategory.REPORTS
OWNER = user_field("owner_id")

REGISTRY = EventRegistry(
    [
        DomainToSSEMapping(
            domain_event=ReportRequested,
            sse_event_type="report.requested",
            category=REPORTS,
            description="The owner's report was accepted and is queued.",
            user_id_extractor=OWNER,
        ),
        DomainToSSEMapping(
            domain_event=ReportProgressed,
            sse_event_type="report.progress",
            category=REPORTS,
            description="The owner's report finished another generation step.",
            user_id_extractor=OWNER,
            # The next step, or the outcome, supersedes it: not worth an outbox row per tick.
            ephemeral=True,
        ),
        DomainToSSEMapping(
            domain_event=ReportCompleted,
            sse_event_type="report.completed",
            category=REPORTS,
            description="The owner's report is ready to download.",
            user_id_extractor=OWNER,
        ),
        DomainToSSEMapping(
            domain_event=ReportFailed,
            sse_event_type="report.failed",
            category=REPORTS,
            description="Generation of the owner's report failed.",
            user_id_extractor=OWNER,
        ),
        DomainToSSEMapping(
            domain_event=AnnouncementPublished,
            sse_event_type="system.announcement",
            category=SSECategory.SYSTEM,
            description="An administrator's message to every user.",
            user_id_extractor=to_everyone,
        ),
    ]
)
