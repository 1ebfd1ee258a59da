"""Serve one benchmark target on loopback: ``python -m bench.serve {herald,baseline,ceiling} PORT``.

All three run in uvicorn with uvloop and httptools and without access logs,
so the comparison is between the applications. Herald runs exactly as
``herald run`` builds it, configured from ``HERALD_*`` variables.
"""

import sys

import uvicorn


def main() -> None:
    target, port = sys.argv[1], int(sys.argv[2])
    if target == "herald":
        from infrastructure.container import Container  # noqa: PLC0415 - only the chosen target is imported
        from presentation.process.server import build_server  # noqa: PLC0415

        build_server(Container(), host="127.0.0.1", port=port, log_level="warning").run()
        return
    app = {"baseline": "bench.baseline_app:app", "ceiling": "bench.ceiling_app:app"}[target]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", log_level="warning", timeout_keep_alive=75
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
