"""Events meant for every user of the service, or of one tenant."""

from uuid import UUID

import attrs

from domain.events.base import DomainEvent
from domain.sse.groups import valid_group_id


@attrs.frozen(kw_only=True)
class AnnouncementPublished(DomainEvent):
    """An administrator published a message to everyone."""

    message: str
    author_id: UUID


@attrs.frozen(kw_only=True)
class TenantAnnouncementPublished(DomainEvent):
    """An administrator published a message to every member of their tenant."""

    message: str
    author_id: UUID
    tenant: str = attrs.field(validator=valid_group_id)
