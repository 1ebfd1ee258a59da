"""The categories a client can filter its stream by."""

from enum import StrEnum


class SSECategory(StrEnum):
    """Every category an SSE event can belong to.

    Clients pass these values in ``?categories=``; add a member here before a
    registry entry can use it.
    """

    REPORTS = "reports"
    SYSTEM = "system"
    PRESENCE = "presence"
