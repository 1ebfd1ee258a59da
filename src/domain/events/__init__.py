"""Domain events: immutable, past-tense facts raised by use cases."""

from domain.events.announcements import AnnouncementPublished, TenantAnnouncementPublished
from domain.events.base import ENVELOPE_FIELDS, DomainEvent
from domain.events.presence import PresenceEvent, PresenceJoined, PresenceLeft
from domain.events.reports import (
    ReportCompleted,
    ReportEvent,
    ReportFailed,
    ReportProgressed,
    ReportRequested,
)

__all__ = [
    "ENVELOPE_FIELDS",
    "AnnouncementPublished",
    "DomainEvent",
    "PresenceEvent",
    "PresenceJoined",
    "PresenceLeft",
    "ReportCompleted",
    "ReportEvent",
    "ReportFailed",
    "ReportProgressed",
    "ReportRequested",
    "TenantAnnouncementPublished",
]
