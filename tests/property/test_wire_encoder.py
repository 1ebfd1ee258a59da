"""The wire encoder under generated input: nothing breaks out of its field, everything parses back."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from application.streams import MAX_LAST_EVENT_ID_LENGTH, MAX_WATCHES_CEILING
from domain.sse import Group, GroupKind
from domain.sse.groups import GROUP_ID_PATTERN
from herald_contracts import parse_sse
from infrastructure.brokers.redis.keys import ORIGIN, Cursor, Position
from infrastructure.sse.framing import UnsafeFieldError, encode_id_line, encode_json_message
from infrastructure.streams.group_ids import group_order

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)
#: Text with the characters that matter to the SSE format, non-BMP characters among them.
NASTY_TEXT = st.lists(
    st.sampled_from(["\r", "\n", "\r\n", "\x00", ":", " ", "é", "𝄞", "\u2028", "data: x", "id:"])
    | st.characters(codec="utf-8"),
    max_size=12,
).map("".join)


@given(payload=st.dictionaries(st.text(), JSON, max_size=6), event_type=NASTY_TEXT, event_id=NASTY_TEXT)
def test_json_messages_parse_back_or_are_refused(payload: dict[str, object], event_type: str, event_id: str) -> None:
    data_json = json.dumps(payload, ensure_ascii=False).encode()
    unsafe = any(c in event_type + event_id for c in "\r\n\x00")
    if unsafe:
        with pytest.raises(UnsafeFieldError):
            encode_json_message(event=event_type, data_json=data_json, event_id=event_id)
        return
    encoded = encode_json_message(event=event_type, data_json=data_json, event_id=event_id)
    messages = parse_sse(encoded)
    assert len(messages) == 1  # no second message injected
    [message] = messages
    assert json.loads(message.data) == payload
    assert message.event == (event_type or "message")
    assert message.id == event_id


@given(
    text=st.text(st.characters(exclude_characters="\r\n\x00"), min_size=1),
    surrogate=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
)
def test_text_that_is_not_valid_unicode_is_refused_not_mangled(text: str, surrogate: str) -> None:
    broken = text + surrogate
    with pytest.raises(UnsafeFieldError, match="valid Unicode"):
        encode_json_message(event=broken, data_json=b"{}", event_id="1")
    with pytest.raises(UnsafeFieldError, match="valid Unicode"):
        encode_json_message(event="x.y", data_json=b"{}", event_id=broken)


PARTS = st.integers(min_value=0, max_value=2**64 - 1)


@given(PARTS, PARTS, PARTS, PARTS)
def test_a_cursors_id_line_is_the_checked_encoding_of_its_id(a: int, b: int, c: int, d: int) -> None:
    """The per-delivery shortcut writes exactly what the checked encoder writes, and parses back."""
    cursor = Cursor(Position(a, b), Position(c, d))
    assert cursor.id_line() == encode_id_line(str(cursor))
    assert Cursor.parse(str(cursor)) == (cursor, True)


GROUP_IDS = st.from_regex(GROUP_ID_PATTERN, fullmatch=True)
GROUPS = st.frozensets(
    st.builds(Group, st.sampled_from(GroupKind), GROUP_IDS), min_size=1, max_size=MAX_WATCHES_CEILING + 1
)
#: Redis Stream ids by its clock: milliseconds until the year 9999, and sequences within a millisecond.
REDIS_POSITIONS = st.builds(Position, st.integers(0, 253_402_300_799_999), st.integers(0, 36**4 - 1))


@given(REDIS_POSITIONS, REDIS_POSITIONS, GROUPS, st.data())
def test_a_cursor_in_groups_parses_back_for_its_groups_only(
    user: Position, broadcast: Position, groups: frozenset[Group], data: st.DataObject
) -> None:
    """Ids of streams in groups are checked encodings, read back for the same groups, and within the id limit."""
    order = group_order(groups)
    positions = tuple(data.draw(REDIS_POSITIONS) for _ in order.groups)
    cursor = Cursor(user, broadcast, positions, order)
    text = str(cursor)
    assert cursor.id_line() == encode_id_line(text)
    assert len(text) <= MAX_LAST_EVENT_ID_LENGTH
    assert Cursor.parse(text, order) == (cursor, True)
    other = group_order(groups ^ {Group(GroupKind.TENANT, "another")})
    parsed = Cursor.parse(text, other)
    assert parsed is not None
    assert parsed[1] is False
    assert parsed[0].groups == (ORIGIN,) * len(other.groups)
