"""A production process under hostile clients: no credential in its log, and SIGTERM ends it within the grace.

The process gets every kind of bad request with a valid bearer token, the
stream cookie and a ticket attached, holds a thousand streams whose clients
never read (a hundred of them flooded until their sockets are full) and five
hundred requests whose bodies never finish, and is then stopped with SIGTERM.
"""

import asyncio
import json
import socket
import uuid
from pathlib import Path

import httpx
import pytest

from tests.api.test_hostile_bodies import BODIES
from tests.conftest import TEST_SECRET
from tests.integration.helpers import PROCESS_TOKENS
from tests.support.processes import herald_process
from tests.support.tokens import forged

pytestmark = pytest.mark.spawns  # Herald processes of its own

GRACE = 5.0
#: What the shutdown may take beyond the grace on a busy machine: the cut comes at the grace, then the
#: connections it cut close on an event loop shared with a thousand others.
SLACK = 2.0
FLOODED, IDLE, SLOW_BODIES = 100, 900, 500


def stalled_socket(port: int, request: bytes) -> socket.socket:
    """A client that sends ``request`` and never reads: its connection takes little before it is full.

    Set before connecting, since both sides size their buffers then: a small receive window, and a
    small segment size, which keeps the server's send buffer (sized in segments) small too.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
    sock.connect(("127.0.0.1", port))
    sock.sendall(request)
    return sock


async def test_no_credential_reaches_the_log_and_sigterm_ends_within_the_grace(tmp_path: Path) -> None:
    env = {
        "HERALD_ENV": "production",
        "HERALD_JWT_SECRET": TEST_SECRET,
        "HERALD_CORS_ORIGINS": "https://app.example.com",
        "HERALD_SSE_MAX_STREAMS_PER_USER": "5000",
        "HERALD_SSE_OPENS_PER_MINUTE": "100000",
        "HERALD_SHUTDOWN_GRACE_SECONDS": str(GRACE),
    }
    admin = uuid.uuid4()
    token = PROCESS_TOKENS.issue(admin, ["admin"])
    with herald_process(env, tmp_path / "herald.log") as service:
        bearer = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as client:
            cookie_response = await client.post("/api/v1/events/cookie", headers=bearer)
            cookie = cookie_response.cookies["herald_stream"]
            ticket = (await client.post("/api/v1/events/tickets", headers=bearer)).json()["ticket"]
            secrets = {"token": token, "cookie": cookie, "ticket": ticket}
            secrets |= {f"{name} signature": value.rsplit(".", 1)[1] for name, value in secrets.items() if "." in value}
            attached = {**bearer, "Cookie": f"herald_stream={cookie}"}
            statuses = await send_every_kind_of_bad_request(client, service.port, attached, ticket)
        assert statuses
        assert all(400 <= s < 500 for s in statuses.values()), statuses

        stream_request = (
            f"GET /api/v1/events{{query}} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            f"Cookie: herald_stream={cookie}\r\n\r\n"
        )
        sockets = [
            stalled_socket(service.port, stream_request.format(query=f"?ticket={ticket}").encode())
            for _ in range(FLOODED)
        ]
        sockets += [
            stalled_socket(service.port, stream_request.format(query="?categories=reports").encode())
            for _ in range(IDLE)
        ]
        slow_body = (
            f"POST /api/v1/reports?ticket={ticket} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            f"Cookie: herald_stream={cookie}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            '{"title": "'
        ).encode()
        sockets += [stalled_socket(service.port, slow_body) for _ in range(SLOW_BODIES)]
        async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as client:
            await wait_for_open_streams(client, service.metrics_url, FLOODED + IDLE)
            # Flood the first hundred until their sockets are full (the others take only reports).
            for n in range(200):
                response = await client.post(
                    "/api/v1/announcements", json={"message": f"{n:04d}" + "x" * 1996}, headers=bearer
                )
                assert response.status_code == 202
        code = service.stop()  # SIGTERM; its wait fails the test if the process outlives it by far
        for sock in sockets:
            sock.close()
    log = service.log()
    print(f"\nlog: {len(log.encode()) / 1000:.0f} KB, {len(log.splitlines())} lines")
    assert code in (0, -15)
    for name, value in secrets.items():
        assert value not in log, f"the {name} is in the log"
    entries = [json.loads(line) for line in log.splitlines()]
    assert not [e for e in entries if "Traceback" in json.dumps(e) or e.get("exception")], "a traceback was logged"
    [summary] = [e for e in entries if str(e["event"]).startswith("shut down in")]
    print(f"SIGTERM, {FLOODED + IDLE} stalled streams, {SLOW_BODIES} slow bodies")
    # The process's own measure from SIGTERM to the end of its shutdown (its interpreter's exit aside).
    assert summary["seconds"] < GRACE + SLACK
    assert summary["streams"] == FLOODED + IDLE
    print(f"summary: {summary['event']}")


async def wait_for_open_streams(client: httpx.AsyncClient, metrics_url: str, count: int) -> None:
    async with asyncio.timeout(30):
        while True:
            metrics = (await client.get(metrics_url)).text
            [line] = [m for m in metrics.splitlines() if m.startswith("herald_open_streams ")]
            if float(line.split()[1]) >= count:
                return
            await asyncio.sleep(0.1)


async def send_every_kind_of_bad_request(
    client: httpx.AsyncClient, port: int, attached: dict[str, str], ticket: str
) -> dict[str, int]:
    """Each kind of request the service refuses, with all three credentials attached; name -> status."""
    statuses: dict[str, int] = {}
    q = f"?ticket={ticket}"
    for route, field in (("/api/v1/reports", b"title"), ("/api/v1/announcements", b"message")):
        for name, (body, content_type, _) in BODIES.items():
            headers = {**attached, **({"content-type": content_type} if content_type else {})}
            response = await client.post(route + q, content=body.replace(b"FIELD", field), headers=headers)
            statuses[f"{route} {name}"] = response.status_code
    requests = {
        "bad token": ("GET", "/api/v1/events", {"Authorization": "Bearer not.a.jwt"}),
        "alg none": ("GET", "/api/v1/events", {"Authorization": f"Bearer {forged('', 'none')}"}),
        "exp beyond 9999": ("POST", "/api/v1/events/tickets", {"Authorization": f"Bearer {forged(exp=10**13)}"}),
        "Last-Event-ID beyond 64 bits": (
            "GET",
            "/api/v1/events?categories=nope",
            {"Last-Event-ID": "9" * 20 + "-0_0-0"},
        ),
        "malformed Last-Event-ID": ("GET", "/api/v1/events", {"Last-Event-ID": "a b"}),
        "oversized query": ("GET", "/api/v1/events?x=" + "y" * 5000, {}),
        "unknown route": ("GET", "/api/v1/nothing", {}),
        "wrong method": ("PUT", "/api/v1/events", {}),
        "foreign session": ("DELETE", "/api/v1/sessions/someone-else", {"Authorization": f"Bearer {forged()}"}),
        "CORS preflight": (
            "OPTIONS",
            "/api/v1/reports",
            {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        ),
    }
    for name, (method, path, extra) in requests.items():
        separator = "&" if "?" in path else "?"
        response = await client.request(method, f"{path}{separator}ticket={ticket}", headers={**attached, **extra})
        statuses[name] = response.status_code
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            f"GET /api/v1/events?ticket={ticket} HTTP/1.1\r\nHost: x\r\nAuthorization: {attached['Authorization']}\r\n"
            f"Cookie: {attached['Cookie']}\r\nX-Big: {'a' * 100_000}\r\n\r\n".encode()
        )
        statuses["oversized header"] = int(sock.recv(64).split()[1])
    return statuses
