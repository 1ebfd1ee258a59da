"""After start-up, every domain event class the registry maps reaches the SSE handler through the bus."""

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.registry import REGISTRY
from herald_contracts import MappingContracts
from infrastructure.container import Container, resolve, start, stop

#: The kit's strategies: what it generates for every mapping (a group's id field gets valid ids).
STRATEGIES = MappingContracts(REGISTRY)


async def test_every_mapped_class_is_subscribed(make_container: Callable[..., Container]) -> None:
    container = make_container()
    await start(container)
    try:
        bus = container.event_bus()
        handler = await resolve(container.sse_handler)
        for event_class in sorted(REGISTRY.domain_event_classes, key=lambda cls: cls.__name__):
            before = sum(handler.published.values()) + sum(handler.failed.values())
            await bus.publish(_one(STRATEGIES.events_of(event_class)))
            after = sum(handler.published.values()) + sum(handler.failed.values())
            assert after - before == len(REGISTRY.mappings_for(event_class)), event_class.__name__
    finally:
        await stop(container)


def _one(strategy: st.SearchStrategy[object]) -> object:
    """One example of ``strategy`` (hypothesis's ``find`` is for searching; this only needs any value)."""
    found: list[object] = []

    @settings(max_examples=1, database=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def take(value: object) -> None:
        found.append(value)

    take()
    return found[0]
