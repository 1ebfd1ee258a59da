"""Messages on the control channel come back whole, whatever text their fields hold."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from infrastructure.auth.sessions import SessionRevoked
from infrastructure.sse.wire_format import WireFormat

WIRE = WireFormat()
#: Any text Redis can carry (UTF-8 has no lone surrogates): spaces, line breaks, quotes, braces, any script.
ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)


@given(ANY_TEXT, st.datetimes(timezones=st.just(UTC)))
def test_a_revocation_announcement_reads_back_as_written(session_id: str, until: datetime) -> None:
    message = SessionRevoked(session_id=session_id, until=until)
    assert WIRE.loads(WIRE.dumps(message), SessionRevoked) == message
