"""Presence: which users hold streams in which groups, across every process (see docs/architecture/presence.md)."""

from infrastructure.presence.memory_store import MemoryPresenceStore
from infrastructure.presence.redis_store import RedisPresenceStore
from infrastructure.presence.store import GONE, Change, Changes, PresenceStore
from infrastructure.presence.tracker import PresenceTracker

__all__ = ["GONE", "Change", "Changes", "MemoryPresenceStore", "PresenceStore", "PresenceTracker", "RedisPresenceStore"]
