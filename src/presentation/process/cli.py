"""The ``herald`` command: ``herald run`` serves the app (what ``make run`` does).

``herald registry`` prints the event catalogue, ``herald asyncapi`` the AsyncAPI document.
"""

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from domain.registry import REGISTRY
from infrastructure.asyncapi import PayloadSchemaError, asyncapi_json
from infrastructure.container import Container
from infrastructure.persistence.file_claim import DatabaseInUseError
from infrastructure.service_name import SERVICE
from infrastructure.settings import LogFormat, Settings, SettingsError, log_format_from_env
from presentation.process.catalogue import catalogue_markdown
from presentation.process.logging_setup import configure_logging
from presentation.process.server import build_server


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
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
