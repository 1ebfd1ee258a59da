"""After start-up, every domain event class the registry maps is subscribed to the SSE handler."""

from collections.abc import Callable

from domain.registry import REGISTRY
from infrastructure.container import Container, resolve, start, stop


async def test_every_mapped_class_is_subscribed(make_container: Callable[..., Container]) -> None:
    container = make_container()
    await start(container)
    try:
        bus = container.event_bus()
        handler = await resolve(container.sse_handler)
        subscribed = {cls for cls in REGISTRY.domain_event_classes if handler.handle in bus.handlers_for(cls)}
        assert subscribed == set(REGISTRY.domain_event_classes)
        assert handler.get_mapped_event_types() == REGISTRY.domain_event_classes
    finally:
        await stop(container)
