"""The process around the app: the ``herald`` command, the ASGI server with its transport limits,
logging, the garbage collector's schedule and the metrics listener. It builds the HTTP room's app;
nothing in ``http/`` imports it back."""
