"""The ``herald`` command: ``herald run`` serves the app (what ``make run`` does).

``herald registry`` prints the event catalogue, ``herald asyncapi`` the AsyncAPI document, ``herald openapi``
the OpenAPI document of the HTTP routes (the app's own, built without serving), ``herald events
show <event_id>`` what happened to one event (asked of the running service).
"""

import argparse
import json
import logging
import os
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

from domain.registry import REGISTRY
from infrastructure.asyncapi import PayloadSchemaError, asyncapi_json
from infrastructure.auth import TokenService
from infrastructure.container import Container
from infrastructure.persistence.file_claim import DatabaseInUseError
from infrastructure.service_name import SERVICE
from infrastructure.settings import LogFormat, Settings, SettingsError, log_format_from_env
from presentation.http.app import create_app
from presentation.process.catalogue import catalogue_markdown
from presentation.process.event_report import ReportError, fetch, render
from presentation.process.logging_setup import configure_logging
from presentation.process.server import build_server

#: Seconds the admin token ``herald events show`` makes itself is valid.
_TOKEN_SECONDS = 60


def _run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        configure_logging(_log_format_despite(error))
        logging.getLogger(SERVICE.slug).error("invalid configuration: %s", error)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    container = Container()
    container.settings.override(settings)
    try:
        # Before serving, so a second process on the same SQLite file says why and stops, instead of failing
        # its start-up with a traceback; the claim is held until the container shuts down.
        container.database_claim()
    except DatabaseInUseError as error:
        logging.getLogger(SERVICE.slug).error("cannot start: %s", error)
        return 1
    server = build_server(
        container, host=args.host or settings.host, port=args.port if args.port is not None else settings.port
    )
    server.run()
    return 0


def _log_format_despite(_: SettingsError) -> LogFormat:
    """The configured log format for reporting a bad configuration, when that setting itself is valid."""
    try:
        return log_format_from_env(os.environ)
    except SettingsError:
        return "console"


def _registry(_: argparse.Namespace) -> int:
    sys.stdout.write(catalogue_markdown(REGISTRY))
    return 0


def _asyncapi(args: argparse.Namespace) -> int:
    server_url = args.server_url
    if server_url is None:
        try:
            server_url = Settings.from_env().server_url
        except SettingsError as error:
            logging.getLogger(SERVICE.slug).error("invalid configuration: %s (or pass --server-url)", error)
            return 2
    try:
        document = asyncapi_json(REGISTRY, server_url=server_url, indent=True) + b"\n"
    except (PayloadSchemaError, ValueError) as error:
        logging.getLogger(SERVICE.slug).error("cannot write the AsyncAPI document: %s", error)
        return 1
    if args.output is None:
        sys.stdout.write(document.decode())
    else:
        Path(args.output).write_bytes(document)
    return 0


def _openapi(args: argparse.Namespace) -> int:
    document = json.dumps(create_app(Container()).openapi_schema.to_schema(), indent=2, sort_keys=True) + "\n"
    if args.output is None:
        sys.stdout.write(document)
    else:
        Path(args.output).write_text(document)
    return 0


def service_url(settings: Settings) -> str:
    """Where this machine's service listens (a wildcard bind address is reached on the loopback)."""
    host = settings.host.strip("[]")
    host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104
    return f"http://[{host}]:{settings.port}" if ":" in host else f"http://{host}:{settings.port}"


def admin_token(settings: Settings) -> str:
    """A short-lived admin token signed with the service's own secret (it must be configured, not generated)."""
    if settings.has_identity_provider or settings.jwt_secret_is_generated:
        raise ReportError(
            f"pass an admin token (--token or {SERVICE.variable('admin_token')}): the service's tokens come from "
            f"its identity provider, or {SERVICE.variable('jwt_secret')} is not set here"
        )
    tokens = TokenService(settings.jwt_secret, issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    return tokens.issue(uuid.uuid4(), ["admin"], lifetime_seconds=_TOKEN_SECONDS)


def _show_event(args: argparse.Namespace) -> int:
    log = logging.getLogger(SERVICE.slug)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        log.error("invalid configuration: %s", error)
        return 2
    try:
        token = args.token or os.environ.get(SERVICE.variable("admin_token")) or admin_token(settings)
        answer = fetch(args.url or service_url(settings), args.event_id, token)
    except ReportError as error:
        sys.stderr.write(f"{SERVICE.slug} events show: {error}\n")
        return 1
    sys.stdout.write(json.dumps(answer, indent=2) + "\n" if args.json else render(answer))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``herald`` console script."""
    parser = argparse.ArgumentParser(prog=SERVICE.slug, description="Domain events as live SSE streams.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="serve the API, the stream and the demo page")
    run.add_argument("--host", default=None, help="bind address (default: HERALD_HOST or 127.0.0.1)")
    run.add_argument("--port", type=int, default=None, help="bind port (default: HERALD_PORT or 8000)")
    run.set_defaults(handler=_run)
    registry = commands.add_parser("registry", help="print the event catalogue (Markdown) from the registry")
    registry.set_defaults(handler=_registry)
    asyncapi = commands.add_parser("asyncapi", help="write the AsyncAPI 3 document of the event stream (JSON)")
    asyncapi.add_argument("--output", "-o", default=None, help="file to write (default: standard output)")
    asyncapi.add_argument(
        "--server-url",
        default=None,
        help="where clients reach the service, e.g. https://events.example.com (default: HERALD_PUBLIC_URL, "
        "else http://HERALD_HOST:HERALD_PORT)",
    )
    asyncapi.set_defaults(handler=_asyncapi)
    openapi = commands.add_parser("openapi", help="write the OpenAPI document of the HTTP routes (JSON)")
    openapi.add_argument("--output", "-o", default=None, help="file to write (default: standard output)")
    openapi.set_defaults(handler=_openapi)
    events = commands.add_parser("events", help="look into events").add_subparsers(dest="action", required=True)
    show = events.add_parser("show", help="what happened to one event: commit, relay, broker, deliveries")
    show.add_argument("event_id", help="the event's id (event_id in its data)")
    show.add_argument("--url", default=None, help="the service (default: this machine's, HERALD_HOST:HERALD_PORT)")
    show.add_argument(
        "--token", default=None, help="an admin token (default: HERALD_ADMIN_TOKEN, else one made with the secret)"
    )
    show.add_argument("--json", action="store_true", help="print the service's JSON answer as it is")
    show.set_defaults(handler=_show_event)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
