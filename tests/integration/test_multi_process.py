"""Two Herald processes sharing one Redis, as behind a load balancer."""

import asyncio
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import redis.asyncio as aredis
from httpx_sse import ServerSentEvent

from infrastructure.brokers.redis.keys import RedisKeys
from tests.integration.helpers import PROCESS_TOKENS, announce, data, eventually, process_bearer
from tests.support.processes import HeraldProcess, herald_process
from tests.support.reports import REPORT_SEQUENCE, report_sequence
from tests.support.sessions import check_a_logout_outlasts_every_token_of_its_session
from tests.support.streams import StreamReader

pytestmark = pytest.mark.needs("redis-server")


async def test_a_report_raised_on_one_process_reaches_a_stream_on_the_other(
    two_processes: tuple[HeraldProcess, HeraldProcess],
) -> None:
    a, b = two_processes
    owner = uuid.uuid4()
    async with (
        httpx.AsyncClient(base_url=b.base_url, timeout=10) as on_b,
        httpx.AsyncClient(base_url=a.base_url, timeout=10) as on_a,
        StreamReader(on_b, "/api/v1/events", headers=process_bearer(owner)) as stream,
    ):
        response = await on_a.post("/api/v1/reports", json={"title": "cross-process"}, headers=process_bearer(owner))
        assert response.status_code == 202
        await stream.wait_for_count(len(REPORT_SEQUENCE))
        assert report_sequence(stream.events) == REPORT_SEQUENCE
        assert {data(e)["report_id"] for e in stream.events} == {response.json()["report_id"]}


async def test_switching_process_mid_stream_loses_and_repeats_nothing(
    two_processes: tuple[HeraldProcess, HeraldProcess],
) -> None:
    a, b = two_processes
    user, admin = uuid.uuid4(), uuid.uuid4()
    published = 0
    reports = 0
    async with (
        httpx.AsyncClient(base_url=a.base_url, timeout=10) as on_a,
        httpx.AsyncClient(base_url=b.base_url, timeout=10) as on_b,
    ):

        async def keep_publishing(until: asyncio.Event) -> None:
            nonlocal published, reports
            while not until.is_set():
                published += 1
                await announce(on_a, process_bearer(admin, "admin"), str(published))
                if published % 10 == 0:
                    reports += 1
                    await on_a.post("/api/v1/reports", json={"title": str(reports)}, headers=process_bearer(user))

        def completed_reports(events: list[ServerSentEvent]) -> int:
            return sum(e.event == "report.completed" for e in events)

        first = StreamReader(on_a, "/api/v1/events", headers=process_bearer(user))
        await first.__aenter__()
        enough = asyncio.Event()
        publishing = asyncio.create_task(keep_publishing(enough))
        await first.wait_for_count(30)
        await first.close()  # the client drops its connection to A …
        last_id = first.events[-1].id
        dropped_at = published
        await eventually(lambda: published >= dropped_at + 20)  # … while events keep being published …
        headers = {**process_bearer(user), "Last-Event-ID": last_id}
        async with StreamReader(on_b, "/api/v1/events", headers=headers) as second:  # … and resumes on B.
            await second.wait_for_count(50)
            enough.set()
            await publishing
            # Every report's background steps finish …
            await second.wait_until(lambda events: completed_reports(first.events + events) == reports, timeout=20)
            published += 1
            # … then a fence: once it is in, everything before it is.
            await announce(on_a, process_bearer(admin, "admin"), str(published))
            await second.wait_until(
                lambda events: any(data(e).get("message") == str(published) for e in events), timeout=20
            )
            events = first.events + second.events

    messages = [int(str(data(e)["message"])) for e in events if e.event == "system.announcement"]
    assert messages == list(range(1, published + 1)), "announcements lost, repeated or out of order"
    report_kinds = [e.event for e in events if e.event.startswith("report.")]
    assert report_kinds.count("report.requested") == reports
    assert report_kinds.count("report.completed") == reports
    assert len(report_kinds) == reports * len(REPORT_SEQUENCE)
    assert len({e.id for e in events}) == len(events)
    assert not [e for e in events if e.event == "stream.reset"]
    print(
        f"\nswitch: {published} announcements + {reports * len(REPORT_SEQUENCE)} report events; "
        f"{len(first.events)} read on A, {len(second.events)} on B after resuming"
    )


async def test_revoking_a_session_ends_its_streams_on_every_process(
    two_processes: tuple[HeraldProcess, HeraldProcess],
) -> None:
    a, b = two_processes
    user = uuid.uuid4()
    token = PROCESS_TOKENS.issue(user)
    session_id = PROCESS_TOKENS.verify(token).session_id
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx.AsyncClient(base_url=a.base_url, timeout=10) as on_a,
        httpx.AsyncClient(base_url=b.base_url, timeout=10) as on_b,
        StreamReader(on_a, "/api/v1/events", headers=headers) as stream_a,
        StreamReader(on_b, "/api/v1/events", headers=headers) as stream_b,
    ):
        assert (await on_a.delete(f"/api/v1/sessions/{session_id}", headers=headers)).status_code == 204
        for stream in (stream_a, stream_b):
            async with asyncio.timeout(5):
                await stream.ended.wait()
            assert [e.event for e in stream.events] == ["stream.end"]
            assert data(stream.events[0])["reason"] == "session_revoked"
        for client in (on_a, on_b):
            assert (await client.get("/api/v1/events", headers=headers)).status_code == 401


async def test_a_logout_on_one_process_outlasts_the_token_that_asked_and_every_refreshed_token_everywhere(
    process_env: dict[str, str], tmp_path: Path, redis_admin: aredis.Redis, redis_prefix: str
) -> None:
    env = {**process_env, "HERALD_JWT_LEEWAY_SECONDS": "4", "HERALD_SESSION_REVOCATION_SECONDS": "86400"}
    keys = RedisKeys(redis_prefix)
    with herald_process(env, tmp_path / "a.log") as a, herald_process(env, tmp_path / "b.log") as b:
        async with (
            httpx.AsyncClient(base_url=a.base_url, timeout=10) as on_a,
            httpx.AsyncClient(base_url=b.base_url, timeout=10) as on_b,
        ):
            session_id = await check_a_logout_outlasts_every_token_of_its_session(
                on_a, [on_b, on_a], PROCESS_TOKENS, leeway_seconds=4
            )
            ends_ms = await redis_admin.pexpiretime(keys.revoked_session(session_id))
            assert abs(ends_ms / 1000 - (time.time() + 86_400 + 4)) < 60  # the setting and the leeway from then

            # A logout with a token outliving the setting lasts as long as that token; an admin's revocation
            # of the same session afterwards (the setting from now) does not shorten it.
            long_lived = PROCESS_TOKENS.issue(uuid.uuid4(), session_id="long-lived", lifetime_seconds=3 * 86_400)
            expires = PROCESS_TOKENS.verify(long_lived).expires_at.timestamp()
            for headers in (_bearer(long_lived), process_bearer(uuid.uuid4(), "admin")):
                assert (await on_b.delete("/api/v1/sessions/long-lived", headers=headers)).status_code == 204
                ends_ms = await redis_admin.pexpiretime(keys.revoked_session("long-lived"))
                assert ends_ms == (expires + 4) * 1000


#: Session ids Herald takes: printable text in any script, up to 255 characters, whatever punctuation it holds.
ODD_SESSION_IDS = (
    "with space x",
    " leading and trailing ",
    "sessão ü ключ 会话 🚀",
    'quote" back\\slash {brace} [x] *glob? %25 #hash &amp; ;,:=+',
    "s" * 255,
)
#: ... and ones it refuses: control, format and separator characters, a slash, more than 255 characters.
REFUSED_SESSION_IDS = (
    "line\nbreak x",
    "tab\tx",
    "nul\x00x",
    "zero\u200bwidth",
    "nbsp\u00a0x",
    "a/b",
    "s" * 256,
    "s" * 5000,
)


async def test_revoking_a_session_id_of_any_printable_text_on_one_process_ends_its_stream_on_the_other(
    two_processes: tuple[HeraldProcess, HeraldProcess], redis_admin: aredis.Redis, redis_prefix: str
) -> None:
    a, b = two_processes
    # What the control channel once carried ("<sid> <until>") and plain garbage: skipped, and said so.
    for unreadable in (b"with space x 4102444800.0", b"{not json", b'{"session_id": 1}'):
        await redis_admin.spublish(RedisKeys(redis_prefix).revocation_channel, unreadable)
    tokens = {sid: PROCESS_TOKENS.issue(uuid.uuid4(), session_id=sid) for sid in ODD_SESSION_IDS}
    async with (
        httpx.AsyncClient(base_url=a.base_url, timeout=10) as on_a,
        httpx.AsyncClient(base_url=b.base_url, timeout=10) as on_b,
    ):
        streams = {sid: StreamReader(on_b, "/api/v1/events", headers=_bearer(token)) for sid, token in tokens.items()}
        for stream in streams.values():
            await stream.__aenter__()
        try:
            for sid, token in tokens.items():
                revoked = await on_a.delete(f"/api/v1/sessions/{quote(sid, safe='')}", headers=_bearer(token))
                assert revoked.status_code == 204, (sid, revoked.text)
            for sid, stream in streams.items():
                await stream.wait_until(lambda events: any(e.event == "stream.end" for e in events), timeout=5)
                assert data(stream.events[-1])["reason"] == "session_revoked", sid
                refused = await on_b.get("/api/v1/reports", headers=_bearer(tokens[sid]))
                assert refused.status_code == 401, sid
        finally:
            for stream in streams.values():
                await stream.close()
    await eventually(lambda: all(process.log().count("skipped a message on") == 3 for process in (a, b)))


async def test_a_session_id_herald_cannot_take_is_a_404_on_the_route_and_a_401_in_a_token(
    two_processes: tuple[HeraldProcess, HeraldProcess],
) -> None:
    a, b = two_processes
    admin = process_bearer(uuid.uuid4(), "admin")
    async with (
        httpx.AsyncClient(base_url=a.base_url, timeout=10) as on_a,
        httpx.AsyncClient(base_url=b.base_url, timeout=10) as on_b,
    ):
        for sid in REFUSED_SESSION_IDS:
            response = await on_a.delete(f"/api/v1/sessions/{quote(sid, safe='')}", headers=admin)
            # No session can have such an id, so there is none to revoke (and a slash makes it no route at all).
            assert response.status_code == 404, (sid, response.text)
            assert response.headers["content-type"] == "application/problem+json"
        for sid in (*REFUSED_SESSION_IDS, "lone \ud800 surrogate"):
            headers = _bearer(PROCESS_TOKENS.issue(uuid.uuid4(), session_id=sid))
            for client in (on_a, on_b):
                refused = await client.get("/api/v1/reports", headers=headers)
                assert refused.status_code == 401, (sid, refused.text)
                assert refused.json()["detail"] == "the token's sid claim is malformed"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_an_expiring_credential_ends_its_streams_on_every_process(
    two_processes: tuple[HeraldProcess, HeraldProcess],
) -> None:
    a, b = two_processes
    # Long enough to open a stream on each process on a busy machine (``exp`` is cut to whole seconds).
    headers = {"Authorization": f"Bearer {PROCESS_TOKENS.issue(uuid.uuid4(), lifetime_seconds=5)}"}
    async with (
        httpx.AsyncClient(base_url=a.base_url, timeout=10) as on_a,
        httpx.AsyncClient(base_url=b.base_url, timeout=10) as on_b,
        StreamReader(on_a, "/api/v1/events", headers=headers) as stream_a,
        StreamReader(on_b, "/api/v1/events", headers=headers) as stream_b,
    ):
        for stream in (stream_a, stream_b):
            async with asyncio.timeout(15):
                await stream.ended.wait()
            assert data(stream.events[-1])["reason"] == "credential_expired"
        for client in (on_a, on_b):
            assert (await client.get("/api/v1/events", headers=headers)).status_code == 401


async def test_a_ticket_from_one_process_opens_a_stream_on_the_other_and_is_never_logged(
    two_processes: tuple[HeraldProcess, HeraldProcess],
) -> None:
    a, b = two_processes
    user = uuid.uuid4()
    async with (
        httpx.AsyncClient(base_url=a.base_url, timeout=10) as on_a,
        httpx.AsyncClient(base_url=b.base_url, timeout=10) as on_b,
    ):
        issued = await on_a.post("/api/v1/events/tickets", headers=process_bearer(user))
        ticket = issued.json()["ticket"]
        async with StreamReader(on_b, f"/api/v1/events?ticket={ticket}") as stream:
            assert stream.response is not None
            assert stream.response.status_code == 200
        assert (await on_a.get(f"/api/v1/events?ticket={ticket}")).status_code == 401  # used up
    # Both uses were logged (the stream on B, the refusal on A), each without the ticket.
    await eventually(lambda: all("ticket=[redacted]" in process.log() for process in (a, b)))
    for process in (a, b):
        assert ticket not in process.log()
