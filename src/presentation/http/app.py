"""The Litestar application factory."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from infrastructure.container import Container, resolve, start, stop
from infrastructure.redis_deadline import redis_budget_middleware
from presentation.http.allow import list_every_method
from presentation.http.auth import AUTHENTICATE
from presentation.http.controllers.admin_events import AdminEventsController
from presentation.http.controllers.announcements import AnnouncementsController
from presentation.http.controllers.asyncapi import asyncapi
from presentation.http.controllers.dev_tokens import DevTokensController
from presentation.http.controllers.events import STREAM_PREAMBLE, EventsController
from presentation.http.controllers.health import health
from presentation.http.controllers.page import client_bundle, demo_page
from presentation.http.controllers.presence import PresenceController
from presentation.http.controllers.reports import ReportsController
from presentation.http.controllers.sessions import SessionsController
from presentation.http.controllers.stream_credentials import StreamCredentialsController
from presentation.http.cors import cors_config, unlisted_origin_guard
from presentation.http.errors import exception_handlers, problem_details_plugin
from presentation.http.from_container import bound_to
from presentation.http.json_body import check_json_body
from presentation.http.openapi.closed_bodies import ClosedStructSchemaPlugin
from presentation.http.openapi.config import openapi_config
from presentation.http.openapi.document import document_routes
from presentation.http.request_ids import add_request_id, request_id_middleware
from presentation.http.response_start import on_response_start
from presentation.http.security_headers import add_security_headers
from presentation.http.send_timeout import SendTimeout
from presentation.http.tracing import tracing_plugins

logger = logging.getLogger(__name__)


def create_app(container: Container | None = None) -> Litestar:
    """Build the app around ``container`` (a fresh one from the environment by default).

    Tests pass their own container with overridden providers; nothing here
    reads or writes module globals.
    """
    container = container or Container()
    settings = container.settings()
    tracing = container.tracing()  # None unless the OpenTelemetry variables turn it on

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        try:
            await start(container)
            app.state[AUTHENTICATE] = await resolve(container.authenticate)  # for the guard of API routes
            app.state[STREAM_PREAMBLE] = container.stream_preamble()
        except BaseException:
            await stop(container)  # close what did start, so a failed start leaves nothing running
            raise
        logger.info("Herald started (%s broker, %s)", settings.broker_kind, settings.env)
        try:
            yield
        finally:
            await stop(container)

    cors = cors_config(settings.cors_origins)
    handlers: list[object] = [
        EventsController,
        StreamCredentialsController,
        ReportsController,
        PresenceController,
        AnnouncementsController,
        AdminEventsController,
        SessionsController,
        health,
        demo_page,
        client_bundle,
        asyncapi,
    ]
    if not settings.is_production and not settings.has_identity_provider:
        handlers.append(DevTokensController)  # with a provider, its tokens would be refused anyway

    send_timeout = SendTimeout(settings.sse_send_timeout_seconds)
    app = Litestar(
        route_handlers=bound_to(container, handlers),
        lifespan=[lifespan],
        plugins=[
            problem_details_plugin(),
            ClosedStructSchemaPlugin(),
            *tracing_plugins(tracing.provider if tracing is not None else None),
        ],
        exception_handlers=exception_handlers(),
        cors_config=cors,
        before_send=[
            *([] if cors is None else [unlisted_origin_guard(cors)]),
            on_response_start(add_request_id, add_security_headers, list_every_method),
        ],
        before_request=check_json_body,
        request_max_body_size=settings.http_max_body_bytes,
        middleware=[request_id_middleware, redis_budget_middleware(settings.redis_timeout_seconds), send_timeout],
        on_shutdown=[send_timeout.aclose],
        openapi_config=openapi_config(),
        debug=False,
        logging_config=None,  # the process (``herald run``, or the test runner) configures logging
    )
    document_routes(app)  # every route is registered now: the OpenAPI document covers each one
    return app
