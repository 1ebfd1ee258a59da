"""The process around the app: the ``herald`` command, the ASGI server with its transport limits and
send timeouts, logging, the garbage collector's schedule and the metrics listener."""
