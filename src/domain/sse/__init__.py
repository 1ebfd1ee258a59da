"""The SSE event model: events, categories, audiences and groups."""

from domain.sse.audience import (
    BROADCAST,
    Audience,
    AudienceExtractor,
    Broadcast,
    Everyone,
    UserField,
    to_everyone,
    user_field,
)
from domain.sse.categories import SSECategory
from domain.sse.event import SSEEvent
from domain.sse.groups import ANNOUNCED_PRESENCE, Group, GroupField, GroupKind, group_id_problem, to_group

__all__ = [
    "ANNOUNCED_PRESENCE",
    "BROADCAST",
    "Audience",
    "AudienceExtractor",
    "Broadcast",
    "Everyone",
    "Group",
    "GroupField",
    "GroupKind",
    "SSECategory",
    "SSEEvent",
    "UserField",
    "group_id_problem",
    "to_everyone",
    "to_group",
    "user_field",
]
