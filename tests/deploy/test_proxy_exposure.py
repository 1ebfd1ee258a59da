"""What the proxy must not expose, seen through nginx with the shipped ``deploy/nginx.conf`` in front of a real Herald.

No spelling of ``/metrics`` answers through the proxy (the public app has no
metrics; they are on the metrics listener), a stream ticket reaches neither
Herald's log nor nginx's logs however its query parameter is spelled, and the
proxy's own rate limits refuse a flood with 429 without logging its requests.
"""

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SECRET
from tests.deploy.test_deployment_topology import nginx
from tests.integration.helpers import eventually, process_bearer
from tests.support.processes import HeraldProcess, herald_process
from tests.support.streams import StreamReader

pytestmark = [pytest.mark.needs("nginx"), pytest.mark.spawns, pytest.mark.timeout(120)]

#: Request targets that name the metrics path in another way; each is sent byte for byte.
METRICS_SPELLINGS = (
    "/metrics",
    "/metrics/",
    "//metrics",
    "/metrics%2F",
    "/metrics%2f",
    "/%6detrics",
    "/%6Detrics/",
    "/./metrics",
    "/health/../metrics",
    "/metrics?x=1",
    "/metrics;x",
    "/METRICS",
    "/Metrics/",
)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HeraldProcess]:
    env = {"HERALD_ENV": "production", "HERALD_JWT_SECRET": TEST_SECRET}
    with herald_process(env, tmp_path_factory.mktemp("herald") / "herald.log") as process:
        yield process


async def request(base_url: str, method: str, target: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """``method target`` sent exactly as written (no client normalises it); the status and the body."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    try:
        response = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_no_spelling_of_metrics_answers_through_the_proxy_or_the_public_port(
    service: HeraldProcess, tmp_path: Path
) -> None:
    with nginx([service.port], tmp_path) as entry:
        for base in (entry, service.base_url):
            for target in METRICS_SPELLINGS:
                status, body = await request(base, "GET", target)
                assert b"herald_" not in body, f"{base}{target} served metrics"
                assert status in (400, 404), f"{base}{target}: {status}"
    status, body = await request(service.metrics_url.removesuffix("/metrics"), "GET", "/metrics")
    assert status == 200
    assert b"herald_open_streams " in body
    for target in ("/", "/metrics/", "/health", "/api/v1/events"):
        status, body = await request(service.metrics_url.removesuffix("/metrics"), "GET", target)
        assert (status, b"herald_" in body) == (404, False), target


def ticket_spellings(ticket: str) -> list[tuple[str, str, dict[str, str]]]:
    """Requests that carry ``ticket`` under another spelling of its parameter: (method, target, headers)."""
    bad_resume = "last_event_id=%01"  # a 400 from Herald: the ticket is not spent
    events = "/api/v1/events"
    return [
        ("GET", f"{events}?%74icket={ticket}&{bad_resume}", {}),
        ("GET", f"{events}?tick%65t={ticket}&{bad_resume}", {}),
        ("GET", f"{events}?%74%69%63%6B%65%74={ticket}&{bad_resume}", {}),
        ("GET", f"{events}?{bad_resume}&ticket={ticket}", {}),
        ("GET", f"{events}?ticket=other&%74icket={ticket}&{bad_resume}", {}),
        ("GET", f"{events}?a=1;ticket={ticket}&{bad_resume}", {}),
        ("GET", f"{events}?a=1%26ticket%3D{ticket}&{bad_resume}", {}),
        ("GET", f"{events}?ticket%3D{ticket}", {}),
        ("GET", f"{events}?TICKET={ticket}&{bad_resume}", {}),
        ("GET", f"{events}?t%2569cket={ticket}&{bad_resume}", {}),
        ("GET", f"{events};ticket={ticket}", {}),
        ("GET", f"{events}%3Fticket%3D{ticket}", {}),
        ("GET", f"{events}%3F%74icket={ticket}", {}),
        # Refused by nginx itself (a body over client_max_body_size): an error, in nginx's terms.
        ("POST", f"/api/v1/reports?%74icket={ticket}", {"Content-Length": "100000"}),
    ]


async def test_a_ticket_reaches_no_log_however_its_parameter_is_spelled(service: HeraldProcess, tmp_path: Path) -> None:
    user = uuid.uuid4()
    with nginx([service.port], tmp_path) as entry:
        async with httpx.AsyncClient(base_url=entry, timeout=10) as client:
            issued = await client.post("/api/v1/events/tickets", headers=process_bearer(user))
            ticket = issued.json()["ticket"]
            statuses = {}
            for method, target, headers in ticket_spellings(ticket):
                statuses[target] = (await request(entry, method, target, headers))[0]
            assert all(400 <= status < 500 for status in statuses.values()), statuses
            # The ticket was refused everywhere, so it is still good: its encoded name is a credential.
            async with client.stream(
                "GET", f"/api/v1/events?%74icket={ticket}", headers={"X-Request-ID": "stream-opened"}
            ) as stream:
                assert stream.status_code == 200
                await anext(stream.aiter_lines())
            assert (await client.get("/health", headers={"X-Request-ID": "later-marker"})).status_code == 200
        proxy_log = tmp_path / "nginx.log"
        await eventually(lambda: all(marker in service.log() for marker in ("stream-opened", "later-marker")))
        await eventually(lambda: all(marker in proxy_log.read_text() for marker in ("stream-opened", "later-marker")))
    assert ticket not in service.log()
    assert ticket not in proxy_log.read_text()
    assert "%74icket=[redacted]" in service.log()


async def test_the_proxy_limits_a_flood_with_429_and_logs_none_of_its_requests(
    service: HeraldProcess, tmp_path: Path
) -> None:
    secret = "flood-" + uuid.uuid4().hex
    with nginx([service.port], tmp_path) as entry:
        limits = httpx.Limits(max_connections=150)  # all at once: more than either burst allows
        async with httpx.AsyncClient(base_url=entry, timeout=30, limits=limits) as client:
            api = await asyncio.gather(*(client.get(f"/api/v1/reports?ticket={secret}") for _ in range(150)))
            opens = await asyncio.gather(*(client.get(f"/api/v1/events?ticket={secret}") for _ in range(150)))
            assert (await client.get("/health", headers={"X-Request-ID": "flood-marker"})).status_code in (200, 429)
        proxy_log = tmp_path / "nginx.log"
        await eventually(lambda: "flood-marker" in proxy_log.read_text())
    for responses in (api, opens):
        statuses = {response.status_code for response in responses}
        assert 429 in statuses, statuses
        assert statuses <= {401, 429}, statuses
    assert secret not in proxy_log.read_text()


@pytest.mark.parametrize("path", ["/api/v1/events/", "/api/v1/events//", "/api/v1/events%2F"])
async def test_every_spelling_of_the_stream_path_gets_the_streams_limits(
    service: HeraldProcess, tmp_path: Path, path: str
) -> None:
    """Held open 30 at once: within the streams' 100 connections, beyond the API's 20 (which refuse with 429)."""
    with nginx([service.port], tmp_path) as entry:
        async with (
            httpx.AsyncClient(base_url=entry, timeout=30, limits=httpx.Limits(max_connections=40)) as client,
            contextlib.AsyncExitStack() as held,
        ):
            readers = [StreamReader(client, path, headers=process_bearer(uuid.uuid4())) for _ in range(30)]
            await asyncio.gather(*(held.enter_async_context(reader) for reader in readers))
            statuses = [reader.response.status_code if reader.response is not None else None for reader in readers]
    assert statuses == [200] * 30, statuses
