"""No credential survives the log formatter: in messages, arguments, extra fields or tracebacks."""

import json
import logging
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar._parsers import parse_query_string

from infrastructure.settings import LogFormat
from presentation.http.auth import TICKET_PARAMETER
from presentation.process.log_redaction import CREDENTIAL_NAMES, redact
from tests.support.logs import render
from tests.support.tokens import forged

TOKEN = forged()
TICKET = "s3cr3t-T1cket-0123456789abcdefghijklmnopqrstu"
#: Enough spelling choices for every credential name, however long a fork's cookie name grows.
LONGEST_NAME = max(map(len, CREDENTIAL_NAMES))


def access_line(path: str) -> logging.LogRecord:
    # The shape of uvicorn's access-log record: the request line is an argument.
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", path, "1.1", 200),
        None,
    )


@pytest.mark.parametrize(
    "text",
    [
        f"/api/v1/events?ticket={TICKET}",
        f"/api/v1/events?categories=reports&ticket={TICKET}&last_event_id=1-2",
        f"/anything?access_token={TICKET}",
        f"/anything?TOKEN={TICKET}",
        f"Authorization: Bearer {TICKET}",
        f"(b'authorization', b'Bearer {TOKEN}')",
        f"(b'cookie', b'theme=dark; herald_stream={TOKEN}')",
        f"cookie: herald_stream={TICKET}",
        f"a JWT alone: {TOKEN}",
        f"a truncated one: '{TOKEN[:60]}'+212",
        "Authorization: Basic dXNlcjpwYXNzd29yZA==",
    ],
    ids=lambda text: text.split(":")[0].split("?")[0][:40],  # the same in every test worker: no token in an id
)
def test_credentials_are_redacted_wherever_they_stand(text: str) -> None:
    redacted = redact(text)
    assert TICKET not in redacted
    assert TOKEN not in redacted
    assert TOKEN.split(".")[1] not in redacted  # the claims
    assert TOKEN.split(".")[2] not in redacted  # the signature
    assert "dXNlcjpwYXNzd29yZA" not in redacted
    assert "[redacted]" in redacted


def test_other_parameters_are_kept() -> None:
    assert redact("/api/v1/events?categories=reports&last_event_id=1-2_3-4") == (
        "/api/v1/events?categories=reports&last_event_id=1-2_3-4"
    )


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_every_field_of_a_record_is_redacted(log_format: LogFormat) -> None:
    record = logging.LogRecord(
        "presentation.http.errors", logging.WARNING, __file__, 1, "refused %s", (f"ticket={TICKET}",), None
    )
    record.__dict__["headers"] = {"authorization": f"Bearer {TOKEN}"}
    record.__dict__["cookies"] = [f"herald_stream={TOKEN}"]
    line = render(log_format, record)
    assert TICKET not in line
    assert TOKEN not in line
    assert TOKEN.split(".")[2] not in line


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_tracebacks_carry_no_locals_and_no_credentials(log_format: LogFormat) -> None:
    def handle(scope: dict[str, object]) -> None:
        raise ValueError(f"cannot handle {scope['query_string']!r}")

    scope = {"headers": [(b"authorization", f"Bearer {TOKEN}".encode())], "query_string": f"ticket={TICKET}"}
    try:
        handle(scope)
    except ValueError:
        record = logging.LogRecord("presentation.http.errors", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = render(log_format, record)
    assert "ValueError" in line
    assert TOKEN not in line
    assert TOKEN.split(".")[2] not in line
    assert TICKET not in line
    assert "authorization" not in line  # the scope, a local variable, is not rendered at all
    if log_format == "json":
        [entry] = [json.loads(line)]
        frames = entry["exception"][0]["frames"]
        assert all("locals" not in frame or not frame["locals"] for frame in frames)


def test_an_access_line_keeps_its_fields_with_the_ticket_redacted() -> None:
    entry = json.loads(render("json", access_line(f"/api/v1/events?categories=reports&ticket={TICKET}")))
    assert TICKET not in json.dumps(entry)
    assert entry["path"] == "/api/v1/events?categories=reports&ticket=[redacted]"


# --- every spelling of a credential's name -----------------------------------------------------


def spelled(name: str, choices: list[int]) -> str:
    """``name`` with each character written plainly, percent-escaped (either case), or escaped twice."""
    forms = (
        lambda c: c,
        lambda c: f"%{ord(c):02X}",
        lambda c: f"%{ord(c):02x}",
        lambda c: f"%25{ord(c):02X}",
    )
    return "".join(forms[choice](c) for c, choice in zip(name, choices[: len(name)], strict=True))


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(sorted(CREDENTIAL_NAMES)),
    choices=st.lists(st.integers(0, 3), min_size=LONGEST_NAME, max_size=LONGEST_NAME),
    separator=st.sampled_from(["=", "%3D", "%3d"]),
    before=st.sampled_from(["?", "?a=1&", "?a=1;", "?a=1%26", "?ticket=x&", " ", "'", "; "]),
    upper=st.booleans(),
)
def test_a_credential_is_redacted_however_its_name_is_spelled(
    name: str, choices: list[int], separator: str, before: str, upper: bool
) -> None:
    text = f"GET /api/v1/events{before}{spelled(name.upper() if upper else name, choices)}{separator}{TICKET}&x=1"
    assert TICKET not in redact(text), text


@settings(max_examples=300, deadline=None)
@given(
    choices=st.lists(st.integers(0, 2), min_size=6, max_size=6),
    before=st.sampled_from(["", "a=1&", "ticket=other&", "a=1;b=2&"]),
    after=st.sampled_from(["", "&last_event_id=%01", "&categories=reports"]),
)
def test_whatever_name_the_app_reads_as_the_ticket_is_redacted(choices: list[int], before: str, after: str) -> None:
    query = f"{before}{spelled(TICKET_PARAMETER, choices)}={TICKET}{after}"
    assert (TICKET_PARAMETER, TICKET) in parse_query_string(query.encode())  # the app takes it as the ticket
    assert TICKET not in redact(f"/api/v1/events?{query}")


@pytest.mark.parametrize(
    "text",
    [
        f"{{'ticket': '{TICKET}'}}",  # a parsed query in a repr
        f"(('ticket', '{TICKET}'),)",
        f'{{"ticket": "{TICKET}"}}',
        f"/api/v1/events%3Fticket%3D{TICKET}",  # decoded by nobody: a path
        f"/api/v1/events?a=1%26ticket%3D{TICKET}",  # Litestar reads the name a&ticket: redacted all the same
        f"/api/v1/events;ticket={TICKET}",
    ],
    ids=["dict", "tuple", "json", "escaped-path", "escaped-separators", "path-parameter"],
)
def test_credentials_in_reprs_paths_and_escaped_separators_are_redacted(text: str) -> None:
    assert TICKET not in redact(text)
