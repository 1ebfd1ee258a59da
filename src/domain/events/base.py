"""The base class every domain event derives from."""

from datetime import datetime
from uuid import UUID

import attrs

from domain.ids import new_event_id, utc_now


@attrs.frozen(kw_only=True)
class DomainEvent:
    """Something that happened in the domain, named in the past tense.

    Events are immutable facts: ``event_id`` and ``occurred_at`` are filled in
    when the event is raised, so subclasses only declare their own fields.
    """

    event_id: UUID = attrs.field(factory=new_event_id)
    occurred_at: datetime = attrs.field(factory=utc_now)


#: Fields of :class:`DomainEvent` that identify the event rather than describe it;
#: the default SSE payload leaves them out because the SSE event carries its own.
ENVELOPE_FIELDS: frozenset[str] = frozenset(a.name for a in attrs.fields(DomainEvent))
