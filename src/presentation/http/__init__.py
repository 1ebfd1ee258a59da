"""The HTTP edge: the Litestar app, its controllers and what every request and response passes through
(the send timeout, the stream's body writer)."""
