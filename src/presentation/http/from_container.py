"""Controllers' dependencies on the container, declared beside each controller.

A controller names the providers it needs in Litestar's own ``dependencies``:
``{"open_stream": from_container(Container.open_stream)}``. Naming the
container's attribute (not a string) makes a renamed or removed provider a
type error. The app binds those declarations to its own container when it is
built (:func:`bound_to`): each app gets ``Provide`` objects of its own, so the
value a ``Provide`` caches (``use_cache``) is that container's, and tests that
build many apps never share an adapter. After the first request a dependency
is a cached value: no call into the container.
"""

from collections.abc import Iterable, Mapping
from copy import copy
from typing import Any

from dependency_injector import providers
from litestar import Controller
from litestar.di import Provide
from litestar.handlers import BaseRouteHandler

from infrastructure.container import Container, resolve


async def _unbound() -> Any:
    raise RuntimeError("a dependency from the container was used before the app bound it (bound_to)")


class FromContainer(Provide):
    """A dependency on one of the container's providers, until the app binds it to its container."""

    def __init__(self, provider: "providers.Provider[Any]") -> None:
        super().__init__(_unbound)
        self.provider = provider


def from_container(provider: "providers.Provider[Any]") -> Provide:
    """Declare a dependency on ``provider``, one of :class:`Container`'s attributes."""
    return FromContainer(provider)


class BoundToContainer(Provide):
    """A dependency bound to one container's provider; names the provider, so a reader can ask what it gives."""

    def __init__(self, provider: "providers.Provider[Any]") -> None:
        async def provide() -> Any:
            return await resolve(provider)

        super().__init__(provide, use_cache=True)
        self.provider = provider


def container_dependencies(handler: BaseRouteHandler) -> list[Any]:
    """What the container provides (a class, for most) for each dependency ``handler`` takes from it."""
    taken = handler.parsed_fn_signature.parameters
    return [
        getattr(dependency.provider, "provides", None)
        for name, dependency in handler.resolve_dependencies().items()
        if name in taken and isinstance(dependency, FromContainer | BoundToContainer)
    ]


class _Binding:
    """The declarations of one app's handlers, bound to its container."""

    def __init__(self, container: Container) -> None:
        self._container = container
        self._names = {id(provider): name for name, provider in Container.cls_providers.items()}

    def dependencies(self, declared: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if not declared or not any(isinstance(d, FromContainer) for d in declared.values()):
            return None
        return {key: self._bind(d) if isinstance(d, FromContainer) else d for key, d in declared.items()}

    def _bind(self, declared: FromContainer) -> Provide:
        name = self._names.get(id(declared.provider))
        if name is None:
            raise ValueError(f"{declared.provider!r} is not one of the Container's attributes")
        return BoundToContainer(self._container.providers[name])

    def handler(self, handler: Any) -> Any:
        if isinstance(handler, type) and issubclass(handler, Controller):
            return self._controller(handler)
        if isinstance(handler, BaseRouteHandler):
            return self._route_handler(handler) or handler
        return handler

    def _route_handler(self, handler: BaseRouteHandler) -> BaseRouteHandler | None:
        dependencies = self.dependencies(handler.dependencies)
        if dependencies is None:
            return None
        handler = copy(handler)
        handler.dependencies = dependencies
        return handler

    def _controller(self, controller: type[Controller]) -> type[Controller]:
        namespace: dict[str, Any] = {}
        dependencies = self.dependencies(getattr(controller, "dependencies", None))  # a slot of instances
        if dependencies is not None:
            namespace["dependencies"] = dependencies
        for name in set(dir(controller)) - set(dir(Controller)):
            member = getattr(controller, name)
            if isinstance(member, BaseRouteHandler) and (bound := self._route_handler(member)) is not None:
                namespace[name] = bound
        if not namespace:
            return controller
        # A subclass of the app's own: the declaring class stays unbound, ready for the next app.
        namespace |= {"__module__": controller.__module__, "__doc__": controller.__doc__}
        return type(controller.__name__, (controller,), namespace)


def bound_to(container: Container, handlers: Iterable[Any]) -> list[Any]:
    """``handlers`` (controllers and route handlers) with their container dependencies bound to ``container``."""
    binding = _Binding(container)
    return [binding.handler(handler) for handler in handlers]
