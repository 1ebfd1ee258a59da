"""The SSE event: what a stream delivers, independent of the wire format."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import attrs

from domain.ids import new_event_id, utc_now
from domain.sse.categories import SSECategory
from domain.sse.groups import Group


@attrs.frozen(kw_only=True)
class SSEEvent:
    """One event for one user (``user_id``), for a group, for both, or for everyone (neither).

    ``data`` holds JSON-ready values only (str, int, float, bool, None, lists
    and string-keyed mappings of those); the publisher never has to guess how
    to serialise it.
    """

    event_type: str
    category: SSECategory
    data: Mapping[str, Any]
    user_id: UUID | None
    group: Group | None = None
    event_id: UUID = attrs.field(factory=new_event_id)
    occurred_at: datetime = attrs.field(factory=utc_now)
    committed_at: datetime | None = None
    """When the change that raised it committed (a durable event: its outbox row's commit; an ephemeral one:
    its publication after the commit). What a user waits for is measured from here to their socket."""

    @property
    def is_broadcast(self) -> bool:
        """True when every user receives this event."""
        return self.user_id is None and self.group is None
