"""The SSE event model: events, categories and audiences."""

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

__all__ = [
    "BROADCAST",
    "Audience",
    "AudienceExtractor",
    "Broadcast",
    "Everyone",
    "SSECategory",
    "SSEEvent",
    "UserField",
    "to_everyone",
    "user_field",
]
