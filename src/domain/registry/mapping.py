"""One declarative entry of the registry: a domain event class and its SSE event."""

import re
from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID, uuid5

import attrs

from domain.events.base import DomainEvent
from domain.sse.audience import AudienceExtractor, Everyone, UserField, user_field
from domain.sse.categories import SSECategory
from domain.sse.groups import GroupField

#: Lower-case dotted names such as ``report.progress``: they go into the
#: ``event:`` line of the stream, so nothing that could break a line is allowed.
SSE_EVENT_TYPE_PATTERN = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+")

#: Event types under this prefix belong to the stream itself (resume signals).
RESERVED_PREFIX = "stream."

PayloadExtractor = Callable[[Any], Mapping[str, Any]]


@attrs.frozen(kw_only=True)
class DomainToSSEMapping:
    """How one domain event class becomes an SSE event.

    Args:
        domain_event: the event class (exact class; subclasses need their own entry).
        sse_event_type: the ``event:`` name clients listen for.
        category: the category clients filter by.
        description: one sentence for the event catalogue.
        user_id_extractor: who receives it; defaults to the event's ``user_id``
            field. Use ``user_field("owner_id")`` or ``to_everyone``; None
            with a ``group_extractor`` addresses the group alone.
        group_extractor: also (or only) the members of a group, named by a
            field of the event: ``to_group(GroupKind.REPORT, field="report_id")``.
            One write per event however many members the group has; a stream
            that is both the user and a member receives the event once.
        payload_extractor: the payload; ``None`` means every field of the event
            except its envelope (``event_id``, ``occurred_at``).
        payload_type: required with a ``payload_extractor``: an attrs class
            whose fields describe the mapping the extractor returns (same
            names, same types). The AsyncAPI document publishes its schema and
            the property tests check every extracted payload against it, so
            the contract clients read is the one they get. A missing type is
            a registry error rather than an untyped ``object`` schema: an
            undocumented payload is what the document exists to prevent.
        shares_domain_event: set on every mapping of a class that intentionally
            produces several SSE events, so a copy-paste duplicate still fails.
        ephemeral: the event skips the transactional outbox when a unit of
            work raises it and goes straight to the broker after the commit,
            as events raised outside one always do: for events the next one
            supersedes (a progress tick), where losing one in an outage costs
            nothing and storing each would only grow the outbox. Every
            mapping of one class must agree.
    """

    domain_event: type[DomainEvent]
    sse_event_type: str
    category: SSECategory
    description: str
    user_id_extractor: AudienceExtractor | None = attrs.field(factory=lambda: user_field("user_id"))
    group_extractor: GroupField | None = None
    payload_extractor: PayloadExtractor | None = None
    payload_type: type | None = None
    shares_domain_event: bool = False
    ephemeral: bool = False

    @property
    def is_broadcast(self) -> bool:
        """True when the mapping addresses every user."""
        return isinstance(self.user_id_extractor, Everyone)

    def sse_event_id(self, event: DomainEvent) -> UUID:
        """The ``event_id`` of the SSE event this mapping makes of ``event``: the domain event's own, or,
        when several mappings share it, one derived from it and the type (the same on every delivery)."""
        return uuid5(event.event_id, self.sse_event_type) if self.shares_domain_event else event.event_id

    def audience_field(self) -> str | None:
        """The event field that names the recipient, when the extractor declares one."""
        extractor = self.user_id_extractor
        return extractor.name if isinstance(extractor, UserField) else None

    def receivers(self) -> str:
        """Who receives the event, in words (for the catalogue and the AsyncAPI document)."""
        if self.is_broadcast:
            return "every connected user"
        parts = []
        if self.user_id_extractor is not None:
            field = self.audience_field()
            parts.append(f"the user in {field!r}" if field is not None else "the users the mapping names")
        if self.group_extractor is not None:
            parts.append(f"the members of the {self.group_extractor.describe()}")
        return " and ".join(parts)
