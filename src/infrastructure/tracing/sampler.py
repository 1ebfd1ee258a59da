"""Traces start at requests: a span with no parent is recorded only when it is a request's.

Everything else that runs without a parent is background polling (the
relay's look at the outbox, presence leases, report recovery): a trace each
would bury the traces that answer a question. Spans with a parent, local or
from another process, are decided by the sampler the variables chose.
"""

from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, get_current_span
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes


class RequestRooted(Sampler):
    """``sampler`` for requests and for spans that continue a trace; no root spans of other kinds."""

    def __init__(self, sampler: Sampler) -> None:
        self._sampler = sampler

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if kind is not SpanKind.SERVER and not get_current_span(parent_context).get_span_context().is_valid:
            return SamplingResult(Decision.DROP)
        return self._sampler.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"RequestRooted{{{self._sampler.get_description()}}}"
