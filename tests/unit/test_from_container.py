"""Container dependencies, on controllers and on route handlers, are bound per app: two apps never share an adapter."""

import pytest
from dependency_injector import providers
from litestar import Controller, Litestar, get
from litestar.di import NamedDependency
from litestar.testing import AsyncTestClient

from infrastructure.container import Container
from presentation.http.from_container import bound_to, from_container


class Probe(Controller):
    path = "/probe"
    dependencies = {"broker_kind": from_container(Container.broker_kind)}

    @get("/")
    async def kind(self, broker_kind: NamedDependency[str]) -> str:
        return broker_kind


@get("/probe-function", dependencies={"broker_kind": from_container(Container.broker_kind)})
async def probe_function(broker_kind: NamedDependency[str]) -> str:
    return broker_kind


def app_of(container: Container) -> Litestar:
    return Litestar(route_handlers=bound_to(container, [Probe, probe_function]))


async def test_each_app_resolves_from_its_own_container() -> None:
    first, second = Container(), Container()
    second.broker_kind.override("redis")
    for container, expected in ((first, "memory"), (second, "redis"), (first, "memory")):
        async with AsyncTestClient(app_of(container)) as client:
            assert (await client.get("/probe")).text == expected
            assert (await client.get("/probe-function")).text == expected


def test_a_provider_that_is_not_the_containers_is_refused_when_the_app_is_built() -> None:
    class Stray(Controller):
        path = "/stray"
        dependencies = {"value": from_container(providers.Object(1))}

    with pytest.raises(ValueError, match="not one of the Container's attributes"):
        bound_to(Container(), [Stray])
