"""An SSE parser independent of Herald's encoder: httpx-sse's decoder, fed by its spec line splitter."""

from httpx_sse import ServerSentEvent
from httpx_sse._decoders import SSEDecoder, SSELineDecoder


def parse_sse(raw: bytes | str) -> list[ServerSentEvent]:
    """Every dispatched message in ``raw``; a trailing incomplete message is dropped, as browsers do."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    lines = SSELineDecoder().decode(text)
    decoder = SSEDecoder()
    return [event for event in map(decoder.decode, lines) if event is not None]
