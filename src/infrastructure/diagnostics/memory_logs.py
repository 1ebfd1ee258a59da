"""Where an event stands in the embedded broker's history (its logs for resume, in this process's memory)."""

from collections.abc import Sequence
from datetime import datetime

from application.ports.diagnostics import Addressed, LogPlace
from infrastructure.brokers.memory import InMemoryBroker
from infrastructure.diagnostics.audience_logs import logs_of


class MemoryBrokerLogs:
    """``BrokerLogs`` of the embedded broker."""

    def __init__(self, broker: InMemoryBroker, *, retention: int) -> None:
        self._broker = broker
        self._retention = retention

    async def places(self, event: Addressed, around: datetime) -> Sequence[LogPlace]:
        return [self._place(name, audience, event) for name, audience in logs_of(event)]

    def _place(self, name: str, audience: object, event: Addressed) -> LogPlace:
        if not self._retention:
            return LogPlace(name, None, "retention is off (HERALD_SSE_RETENTION=0): nothing is kept for resume")
        log = self._broker.log_of(audience)  # type: ignore[arg-type]
        if log is None:
            return LogPlace(
                name,
                None,
                "no history of this audience here: forgotten (least recently addressed) or never written since the start",
            )
        for entry in log.entries:
            if entry.event_id == event.event_id and entry.event_type == event.event_type:
                return LogPlace(name, str(entry.seq), "retained: a stream resuming from before it gets it again")
        oldest = log.entries[0].seq if log.entries else log.seq
        return LogPlace(
            name,
            None,
            f"not retained: dropped by retention (the log keeps its last {self._retention}, now from {oldest})",
        )
