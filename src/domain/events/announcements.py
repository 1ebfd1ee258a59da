"""Events meant for every user of the service, or of one tenant."""

from uuid import UUID

import attrs

from domain.events.base import DomainEvent
from domain.sse.groups import group_id_problem


@attrs.frozen(kw_only=True)
class AnnouncementPublished(DomainEvent):
    """An administrator published a message to everyone."""

    message: str
    author_id: UUID


def _tenant_id(_: object, __: "attrs.Attribute[str]", value: str) -> None:
    problem = group_id_problem(value)
    if problem is not None:
        raise ValueError(problem)


@attrs.frozen(kw_only=True)
class TenantAnnouncementPublished(DomainEvent):
    """An administrator published a message to every member of their tenant."""

    message: str
    author_id: UUID
    tenant: str = attrs.field(validator=_tenant_id)
