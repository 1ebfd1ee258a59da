"""``GET /api/v1/admin/events/{event_id}``: what happened to one event, for an administrator."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import PathParameter

from application.access import ADMIN_ROLE
from application.diagnostics import DiagnoseEvent, EventDiagnosis
from application.principal import Principal
from application.refusals import Refused
from infrastructure.container import Container
from presentation.http.auth import authenticated, provide_principal, require_role
from presentation.http.from_container import from_container
from presentation.http.refusals import refuse


class OutboxView(msgspec.Struct):
    """The event's outbox row: committed, tried, published (or set aside, and why)."""

    domain_event: str
    committed_at: datetime
    attempts: int
    first_tried_at: datetime | None
    published_at: datetime | None
    failure: str | None


class LogPlaceView(msgspec.Struct):
    log: str
    position: str | None
    note: str


class AudienceView(msgspec.Struct):
    """One SSE event of it: who it is for, and where the broker's logs hold it."""

    event_id: UUID
    event_type: str
    category: str
    users: list[UUID]
    group: str | None
    broadcast: bool
    logs: list[LogPlaceView]


class SkippedStreamView(msgspec.Struct):
    reason: str
    user_id: str


class DeliveryView(msgspec.Struct):
    """What one process did with it: streams queued on, written to, and the open ones skipped, by reason."""

    process: str
    event_type: str
    category: str
    first_at: datetime
    last_at: datetime
    queued: int
    written: int
    skipped: dict[str, int]
    skipped_streams: list[SkippedStreamView]


class EventDiagnosisView(msgspec.Struct):
    event_id: UUID
    outbox: OutboxView | None
    """Null: an ephemeral event (never in the outbox), or a row older than the outbox keeps."""
    audience: list[AudienceView]
    deliveries: list[DeliveryView]
    window_seconds: float
    """How far back ``deliveries`` go."""


def _view(diagnosis: EventDiagnosis) -> EventDiagnosisView:
    entry = diagnosis.outbox
    return EventDiagnosisView(
        event_id=diagnosis.event_id,
        outbox=None
        if entry is None
        else OutboxView(
            entry.domain_event,
            entry.committed_at,
            entry.attempts,
            entry.first_tried_at,
            entry.published_at,
            entry.failure,
        ),
        audience=[
            AudienceView(
                item.event.event_id,
                item.event.event_type,
                item.event.category,
                list(item.event.users),
                item.event.group,
                item.event.broadcast,
                [LogPlaceView(place.log, place.position, place.note) for place in item.places],
            )
            for item in diagnosis.events
        ],
        deliveries=[
            DeliveryView(
                d.process,
                d.event_type,
                d.category,
                d.first_at,
                d.last_at,
                d.queued,
                d.written,
                dict(d.skipped),
                [SkippedStreamView(reason, user) for reason, user in d.examples],
            )
            for d in diagnosis.deliveries
        ],
        window_seconds=diagnosis.window_seconds,
    )


class AdminEventsController(Controller):
    """Delivery diagnostics."""

    path = "/api/v1/admin/events"
    tags = ["admin"]
    guards = [authenticated]
    dependencies = {
        "principal": Provide(provide_principal, sync_to_thread=False),
        "diagnose_event": from_container(Container.diagnose_event),
    }

    @get("/{event_id:str}", summary="What happened to one event (admin)", cache=False)
    async def show(
        self,
        event_id: Annotated[UUID, PathParameter(description="the event's id")],
        principal: NamedDependency[Principal],
        diagnose_event: NamedDependency[DiagnoseEvent],
    ) -> EventDiagnosisView:
        """Its commit, outbox attempts and publication, its place in the broker's logs, its audience, and which
        processes delivered it to how many streams within the recent window (and the open streams skipped, why).

        403 without the ``admin`` role; 400 for an id that is no UUID; 404 when nothing knows the event.
        """
        require_role(principal, ADMIN_ROLE)
        diagnosis = await diagnose_event(event_id)
        if isinstance(diagnosis, Refused):
            refuse(diagnosis)
        return _view(diagnosis)
