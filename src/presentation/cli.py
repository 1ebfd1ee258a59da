"""The ``herald`` command: ``herald run`` serves the app (what ``make run`` does).

``herald registry`` prints the event catalogue, ``herald asyncapi`` the AsyncAPI document.
"""

import argparse
import logging
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from domain.registry import REGISTRY
from infrastructure.asyncapi import PayloadSchemaError
from infrastructure.container import Container
from infrastructure.settings import LogFormat, Settings, SettingsError, log_format_from_env
from infrastructure.streams.inbox import EndReason
from infrastructure.streams.signals import EndNotice, end_frame
from presentation.app import create_app
from presentation.catalogue import catalogue_markdown
from presentation.controllers.asyncapi import asyncapi_json
from presentation.gc_policy import tune_for_long_lived_streams
from presentation.logging_setup import configure_logging, install_redaction


class HeraldServer(uvicorn.Server):
    """uvicorn, but open streams are ended first on shutdown.

    uvicorn waits for every open response before running the app's shutdown,
    and an SSE response never ends by itself; ending the streams first lets
    clients reconnect (to another instance) at once, and the process exit promptly.
    """

    def __init__(self, config: uvicorn.Config, container: Container, *, tune_gc: bool = False) -> None:
        super().__init__(config)
        self._container = container
        self._tune_gc = tune_gc

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self._tune_gc:
            tune_for_long_lived_streams()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._container.stream_hub().end_all(EndReason.SHUTDOWN, end_frame(EndNotice.SHUTDOWN))
        await super().shutdown(sockets)


def build_server(
    container: Container, *, host: str, port: int, log_level: str = "info", tune_gc: bool = True
) -> HeraldServer:
    """A server for ``create_app(container)`` on ``host:port`` (port 0 picks a free one).

    ``tune_gc`` applies :mod:`presentation.gc_policy` once started; a test
    process that starts many servers in turn leaves it off.
    """
    config = uvicorn.Config(
        create_app(container),
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_level=log_level,
        log_config=None,  # uvicorn's loggers propagate to the process's handler (``configure_logging``)
        timeout_graceful_shutdown=5,
        # Longer than a load balancer's idle timeout (often 60 s), so the balancer,
        # not Herald, closes idle connections: no request lands on a closing one.
        timeout_keep_alive=75,
        proxy_headers=False,
    )
    install_redaction()  # after uvicorn.Config has configured its loggers
    return HeraldServer(config, container, tune_gc=tune_gc)


def _run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        configure_logging(_log_format_despite(error))
        logging.getLogger("herald").error("invalid configuration: %s", error)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    container = Container()
    container.settings.override(settings)
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
    try:
        document = asyncapi_json(REGISTRY, indent=True) + b"\n"
    except PayloadSchemaError as error:
        logging.getLogger("herald").error("cannot describe the registry: %s", error)
        return 1
    if args.output is None:
        sys.stdout.write(document.decode())
    else:
        Path(args.output).write_bytes(document)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``herald`` console script."""
    parser = argparse.ArgumentParser(prog="herald", description="Domain events as live SSE streams.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="serve the API, the stream and the demo page")
    run.add_argument("--host", default=None, help="bind address (default: HERALD_HOST or 127.0.0.1)")
    run.add_argument("--port", type=int, default=None, help="bind port (default: HERALD_PORT or 8000)")
    run.set_defaults(handler=_run)
    registry = commands.add_parser("registry", help="print the event catalogue (Markdown) from the registry")
    registry.set_defaults(handler=_registry)
    asyncapi = commands.add_parser("asyncapi", help="write the AsyncAPI 3 document of the event stream (JSON)")
    asyncapi.add_argument("--output", "-o", default=None, help="file to write (default: standard output)")
    asyncapi.set_defaults(handler=_asyncapi)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
