"""``GET /api/v1/events``: the authenticated SSE stream, and the catalogue of its event types."""

import re
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, ValidationException
from litestar.params import HeaderParameter, QueryParameter

from application.refusals import Refused
from application.streams import MAX_LAST_EVENT_ID_LENGTH, OpenStream
from domain.registry import DomainToSSEMapping, EventRegistry
from domain.sse import Group, SSECategory
from infrastructure.container import Container
from presentation.http.auth import stream_credential
from presentation.http.from_container import from_container
from presentation.http.openapi.operation import StreamOperation
from presentation.http.openapi.security import STREAM_SECURITY
from presentation.http.refusals import refuse
from presentation.http.sse_response import STREAM_HEADERS, SSEResponse

#: Ids this service hands out are short printable ASCII; anything else is refused
#: before it reaches a broker (and is never echoed back).
_LAST_EVENT_ID = re.compile(rf"[\x21-\x7e]{{1,{MAX_LAST_EVENT_ID_LENGTH}}}")
_VALID_CATEGORIES = ", ".join(sorted(c.value for c in SSECategory))


def parse_categories(raw: str | None) -> frozenset[SSECategory] | None:
    """``a,b`` → the categories; ``None`` when absent (everything)."""
    if raw is None:
        return None
    names = {name.strip() for name in raw.split(",") if name.strip()}
    if not names:
        raise ValidationException(detail=f"categories must name at least one of: {_VALID_CATEGORIES}")
    valid = {c.value for c in SSECategory}
    unknown = names - valid
    if unknown:
        shown = ", ".join(repr(name[:40]) for name in sorted(unknown)[:5])
        raise ValidationException(detail=f"unknown categories {shown}; valid categories: {_VALID_CATEGORIES}")
    return frozenset(SSECategory(name) for name in names)


def choose_last_event_id(header: str | None, query: str | None) -> str | None:
    """The resume position: the header wins over the query fallback; validated, never echoed."""
    value = header if header is not None else query
    if value is None or value == "":
        return None
    if not _LAST_EVENT_ID.fullmatch(value):
        raise ValidationException(
            detail=f"Last-Event-ID is malformed: expected at most {MAX_LAST_EVENT_ID_LENGTH} printable ASCII characters"
        )
    return value


def parse_watches(raw: list[str] | None) -> frozenset[Group]:
    """``?watch=report:<id>`` (repeatable) → the groups; a malformed one is a 400 naming it (cut short)."""
    groups = set()
    for text in raw or ():
        try:
            groups.add(Group.parse(text))
        except ValueError as error:
            raise ValidationException(detail=f"watch {text[:80]!r} is not a group: {error}") from None
    return frozenset(groups)


#: Longer query strings are refused before anything parses them; Herald's own
#: stream URLs (categories, a ticket, a last id) stay far below this.
MAX_QUERY_BYTES = 2048


#: Where the app keeps the stream's preamble (its ``retry:`` hint): read per open, so not a second dependency,
#: which would make Litestar resolve the two in a task group of their own on every open.
STREAM_PREAMBLE = "stream_preamble"


async def bounded_query(request: Request[Any, Any, Any]) -> None:
    """Before the parameters are parsed: 414 for an oversized query string.

    A before-request hook, not a guard: Litestar hands each guard a copy of the route handler on every request.
    """
    if len(request.scope.get("query_string", b"")) > MAX_QUERY_BYTES:
        raise ClientException(status_code=414, detail=f"the query string is longer than {MAX_QUERY_BYTES} bytes")


def _group_kind(mapping: DomainToSSEMapping) -> str | None:
    """The kind of group the type goes to; ``"any"`` for events about groups of every kind (presence)."""
    group = mapping.group_extractor
    if group is None:
        return None
    return group.kind.value if group.kind is not None else "any"


class EventsController(Controller):
    """The stream of the authenticated user."""

    path = "/api/v1/events"
    tags = ["events"]
    dependencies = {
        "open_stream": from_container(Container.open_stream),
        "registry": from_container(Container.registry),
    }

    @get(
        "/",
        summary="Open the SSE stream of the authenticated user",
        security=STREAM_SECURITY,
        operation_class=StreamOperation,
        before_request=bounded_query,
    )
    async def stream(
        self,
        request: Request[Any, Any, Any],
        open_stream: NamedDependency[OpenStream],
        categories: Annotated[str | None, QueryParameter(name="categories", max_length=512)] = None,
        last_event_id_query: Annotated[str | None, QueryParameter(name="last_event_id", max_length=4096)] = None,
        last_event_id_header: Annotated[str | None, HeaderParameter(name="last-event-id", max_length=4096)] = None,
        ticket: Annotated[str | None, QueryParameter(name="ticket")] = None,
        watch: Annotated[
            list[str] | None,
            QueryParameter(
                name="watch",
                description="A group to receive the events of, as <kind>:<id> (report:<uuid>); repeatable, "
                "up to HERALD_SSE_MAX_WATCHES. One the caller may not see answers 404.",
            ),
        ] = None,
    ) -> SSEResponse:
        """Replay after ``Last-Event-ID`` when given, then live events until either side closes.

        The subscription is registered before the response starts, so an
        event published right after the client sees the headers is not missed.
        The input is validated before the credential is looked at: a 400
        leaves a ticket unspent.
        """
        del ticket  # read by stream_credential; declared here for validation and the schema
        wanted = parse_categories(categories)
        last_event_id = choose_last_event_id(last_event_id_header, last_event_id_query)
        watches = parse_watches(watch)
        opened = await open_stream(
            stream_credential(request), categories=wanted, last_event_id=last_event_id, watches=watches
        )
        if isinstance(opened, Refused):
            refuse(opened)
        return SSEResponse(
            aiter(opened.stream),
            preamble=request.app.state[STREAM_PREAMBLE],
            on_disconnect=opened.release,
            headers=STREAM_HEADERS,
            # Also release everything if the body never starts (client gone first).
            background=BackgroundTask(opened.release),
        )

    @get("/types", summary="The SSE event types this service emits", cache=False)
    async def event_types(self, registry: NamedDependency[EventRegistry]) -> list[dict[str, Any]]:
        """The catalogue, so clients (the demo page among them) know which events to listen for."""
        return [
            {
                "type": m.sse_event_type,
                "category": m.category.value,
                "description": m.description,
                "broadcast": m.is_broadcast,
                "group": _group_kind(m),
            }
            for m in registry
        ]
