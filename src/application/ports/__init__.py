"""What the use cases need from the outside world, beyond the domain's ports.

The domain's ports (``domain/ports``) speak its own vocabulary: domain events
go out through the event bus, SSE events through the publisher and in
through the subscriber. The ports here exist only because a use case needs
them: background work, rendering, and everything at the stream's edge —
credentials, tickets, session revocations, admission, stream lifetimes, the
clock — and the unit of work with its repositories. Infrastructure implements
both kinds; the container wires them. Every port of this layer is here, one
module per concern, and importable from this package.
"""

from application.ports.credentials import (
    Credentials,
    RevocationListener,
    RevocationUnavailableError,
    SessionRevocations,
    TicketStore,
    TicketStoreUnavailableError,
    TokenIssuer,
)
from application.ports.health import KeySetState, OutboxBacklog
from application.ports.presence import Presence, PresencePage, PresenceUnavailableError, PresentMember
from application.ports.runtime import BackgroundTasks, Clock, ReportRenderer
from application.ports.streams import (
    AdmissionRefusal,
    Memberships,
    StreamAdmission,
    StreamLifetimes,
    UserRate,
    WatchAccess,
)
from application.ports.unit_of_work import (
    AnnouncementRepository,
    ConcurrentUpdateError,
    Lease,
    ReportAccess,
    ReportKey,
    ReportRepository,
    ReportShareRepository,
    StorageUnavailableError,
    UnitOfWork,
    UnitOfWorkFactory,
)

__all__ = [
    "AdmissionRefusal",
    "AnnouncementRepository",
    "BackgroundTasks",
    "Clock",
    "ConcurrentUpdateError",
    "Credentials",
    "KeySetState",
    "Lease",
    "Memberships",
    "OutboxBacklog",
    "Presence",
    "PresencePage",
    "PresenceUnavailableError",
    "PresentMember",
    "ReportAccess",
    "ReportKey",
    "ReportRenderer",
    "ReportRepository",
    "ReportShareRepository",
    "RevocationListener",
    "RevocationUnavailableError",
    "SessionRevocations",
    "StorageUnavailableError",
    "StreamAdmission",
    "StreamLifetimes",
    "TicketStore",
    "TicketStoreUnavailableError",
    "TokenIssuer",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UserRate",
    "WatchAccess",
]
