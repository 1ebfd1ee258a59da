"""The service's edge, in two rooms: ``http`` (the Litestar app, its controllers, browser auth, the
demo page) and ``process`` (the command, the server, its transport limits and logging)."""
