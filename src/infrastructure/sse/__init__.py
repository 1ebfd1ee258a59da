"""SSE specifics: the wire encoder, the payload format and the SSE event handler."""
