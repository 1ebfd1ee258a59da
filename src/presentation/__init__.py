"""The HTTP edge: the Litestar app, its controllers, browser auth and the demo page."""
