"""What Herald does with a trace: its own spans, and the W3C context that carries a trace between processes.

Code that may trace holds a ``Tracing | None``: None when tracing is off, so
the only cost then is that check. The context travels as a *carrier*, the
string mapping a propagator writes (``traceparent``, ``tracestate``): stored
with an outbox row, written into a broker message, read back on another
process to continue the same trace there.
"""

import contextlib
import contextvars
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from opentelemetry import propagate, trace
from opentelemetry.util.types import Attributes

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

logger = logging.getLogger(__name__)

#: A trace's context as text: what a propagator writes and reads (``traceparent`` and friends).
Carrier = dict[str, str]

#: The carriers of events published together (the relay's batch), by SSE event id: each has its own trace.
_BATCH: contextvars.ContextVar[Mapping[UUID, Carrier] | None] = contextvars.ContextVar("herald_traces", default=None)


class Tracing:
    """The process's tracer, and how a trace crosses the outbox and the broker."""

    def __init__(self, provider: "TracerProvider") -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("herald")

    def carrier(self) -> Carrier | None:
        """The current span's context, to continue its trace elsewhere; None outside a sampled span."""
        if not trace.get_current_span().get_span_context().trace_flags.sampled:
            return None
        carrier: Carrier = {}
        propagate.inject(carrier)
        return carrier or None

    @contextlib.contextmanager
    def span(
        self, name: str, attributes: Attributes = None, *, kind: trace.SpanKind = trace.SpanKind.INTERNAL
    ) -> Iterator[trace.Span]:
        """A span of Herald's own, a child of the current one, current while the block runs."""
        with self.tracer.start_as_current_span(name, kind=kind, attributes=attributes) as span:
            yield span

    def delivered(self, parent: Carrier, event_type: str, streams: int, started_ns: int) -> None:
        """Record that this process queued an event on ``streams`` of its streams (one span, however many).

        Never raises: a context another process wrote badly costs its span, not the delivery.
        """
        try:
            span = self.tracer.start_span(
                "herald.deliver",
                context=propagate.extract(parent),
                kind=trace.SpanKind.CONSUMER,
                attributes={"herald.event_type": event_type, "herald.streams": streams},
                start_time=started_ns,
            )
        except Exception:
            logger.debug("a delivery's trace context could not be read; no span", exc_info=True)
            return
        span.end()

    def publishing_one(self, attributes: Attributes) -> contextlib.AbstractContextManager[trace.Span]:
        """The span of an event published now, within the current span (an ephemeral event after its commit)."""
        return self.span("herald.publish", attributes, kind=trace.SpanKind.PRODUCER)

    @contextlib.contextmanager
    def publishing(self, events: Sequence[tuple[Carrier, str, UUID, Sequence[UUID]]]) -> Iterator[None]:
        """A span per event published together (the relay's batch), each in the trace of its own commit.

        ``events`` holds, per traced event, its commit's carrier, its class's name,
        its id and the ids of its SSE events; the messages published in the block carry
        their event's span (:meth:`carrier_of`), so a delivery continues it.
        """
        spans: list[trace.Span] = []
        carriers: dict[UUID, Carrier] = {}
        for parent, domain_event, event_id, sse_ids in events:
            span = self.tracer.start_span(
                "herald.publish",
                context=propagate.extract(parent),
                kind=trace.SpanKind.PRODUCER,
                attributes={
                    "herald.domain_event": domain_event,
                    "herald.event_id": str(event_id),
                    "herald.batch": len(events),
                },
            )
            carrier: Carrier = {}
            propagate.inject(carrier, context=trace.set_span_in_context(span))
            carriers.update(dict.fromkeys(sse_ids, carrier))
            spans.append(span)
        token = _BATCH.set(carriers)
        try:
            yield
        except Exception as error:
            for span in spans:
                span.record_exception(error)
                span.set_status(trace.StatusCode.ERROR, type(error).__name__)
            raise
        finally:
            _BATCH.reset(token)
            for span in spans:
                span.end()

    def carrier_of(self, event_id: UUID) -> Carrier | None:
        """The trace an event being published belongs to: its own in a batch, else the current span's."""
        batch = _BATCH.get()
        if batch is not None:
            return batch.get(event_id)
        return self.carrier()
