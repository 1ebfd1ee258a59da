"""Snapshot, then stream: clients that load the reports and stream on from the given position end up with
exactly the server's state, whenever they join and however often they start again.

The client here is the algorithm README and docs/architecture/persistence.md describe: load the snapshot,
open the stream from its ``position``, and for each ``report.*`` event: older than what is held, ignore;
exactly the next version, apply; a version further ahead (a change is still on its way, or was ephemeral and
lost), load that report. On ``stream.reset``, load the snapshot again and continue from its position.
"""

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infrastructure.container import Container
from tests.support.postgres import fresh_database
from tests.support.server import RunningHerald, serve
from tests.support.sse import is_retry_hint, is_undispatched

View = dict[str, Any]
FIELDS = ("title", "status", "percent", "step", "download_url", "failure", "version")


class Client:
    """One device of the owner, following the reports by snapshot and stream."""

    def __init__(self, http: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self._http = http
        self._headers = headers
        self.reports: dict[str, View] = {}
        self.position: str | None = None
        self.loads = 0

    async def load(self) -> None:
        response = await self._http.get("/api/v1/reports", headers=self._headers)
        assert response.status_code == 200
        body = response.json()
        self.position = body["position"]
        self.reports = {view["report_id"]: {f: view[f] for f in FIELDS} for view in body["reports"]}
        self.loads += 1

    async def load_one(self, report_id: str) -> None:
        response = await self._http.get(f"/api/v1/reports/{report_id}", headers=self._headers)
        assert response.status_code == 200
        view = response.json()["report"]
        held = self.reports.get(report_id)
        if held is None or view["version"] > held["version"]:
            self.reports[report_id] = {f: view[f] for f in FIELDS}

    async def apply(self, kind: str, data: dict[str, Any]) -> None:
        report_id, version = data["report_id"], data["version"]
        held = self.reports.get(report_id)
        if held is not None and version <= held["version"]:
            return
        if kind == "report.requested" and held is None:
            self.reports[report_id] = {
                "title": data["title"], "status": "requested", "percent": 0, "step": None,
                "download_url": None, "failure": None, "version": version,
            }  # fmt: skip
            return
        if held is None or version != held["version"] + 1:
            await self.load_one(report_id)
            return
        held["version"] = version
        if kind == "report.progress":
            held.update(status="in_progress", percent=data["percent"], step=data["step"])
        elif kind == "report.completed":
            held.update(status="completed", percent=100, download_url=data["download_url"])
        elif kind == "report.failed":
            held.update(status="failed", failure=data["reason"])

    async def follow(self, done: Callable[[], bool]) -> None:
        """Stream from the held position until ``done()``; on ``stream.reset``, load and continue."""
        while not done():
            params = {"last_event_id": self.position} if self.position else {}
            async with aconnect_sse(
                self._http, "GET", "/api/v1/events", params=params, headers=self._headers
            ) as source:
                reset = False
                async for event in source.aiter_sse():
                    if is_retry_hint(event) or is_undispatched(event):
                        continue
                    if event.event == "stream.reset":
                        reset = True
                        break
                    if event.id:
                        self.position = event.id
                    if event.event.startswith("report."):
                        await self.apply(event.event, json.loads(event.data))
                    if done():
                        return
            if reset:
                await self.load()


async def server_state(http: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, View]:
    body = (await http.get("/api/v1/reports", headers=headers)).json()
    return {view["report_id"]: {f: view[f] for f in FIELDS} for view in body["reports"]}


@contextlib.asynccontextmanager
async def service(
    make_container: Callable[..., Container], request: pytest.FixtureRequest
) -> AsyncIterator[RunningHerald]:
    overrides: dict[str, Any] = {"report_step_seconds": 0.03}
    if request.param == "embedded":
        async with serve(make_container(**overrides)) as running:
            yield running
        return
    async with fresh_database(request.getfixturevalue("postgres_url")) as database:
        overrides.update(
            redis_url=request.getfixturevalue("shared_redis_url"),
            redis_prefix=f"snapshot-{uuid.uuid4().hex[:8]}",
            database_url=database,
        )
        async with serve(make_container(**overrides)) as running:
            yield running


@pytest.fixture(
    params=["embedded", pytest.param("redis+postgresql", marks=pytest.mark.needs("redis-server", "postgresql"))]
)
async def running(
    make_container: Callable[..., Container], request: pytest.FixtureRequest
) -> AsyncIterator[RunningHerald]:
    async with service(make_container, request) as server:
        yield server


plans = st.fixed_dictionaries(
    {
        "reports": st.lists(st.floats(min_value=0, max_value=0.08), min_size=1, max_size=6),
        # Per client: how long each of its earlier rounds streams before it starts again from a new snapshot.
        "clients": st.lists(st.lists(st.floats(min_value=0, max_value=0.15), max_size=3), min_size=1, max_size=3),
        # Per client: after how many requested reports it first joins.
        "joins": st.lists(st.integers(min_value=0, max_value=6), min_size=3, max_size=3),
    }
)


@settings(max_examples=6, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(plan=plans)
async def test_every_client_ends_with_the_servers_state(running: RunningHerald, plan: dict[str, Any]) -> None:
    owner = uuid.uuid4()
    headers = {"Authorization": f"Bearer {running.container.token_service().issue(owner)}"}
    async with httpx.AsyncClient(base_url=running.base_url, timeout=20) as http:
        target: dict[str, View] = {}

        requested = asyncio.Condition()
        count = 0

        async def write() -> None:
            nonlocal count
            for pause in plan["reports"]:
                response = await http.post("/api/v1/reports", json={"title": f"r{pause:.3f}"}, headers=headers)
                assert response.status_code == 202
                async with requested:
                    count += 1
                    requested.notify_all()
                await asyncio.sleep(pause)

        async def device(rounds: list[float], joins_after: int) -> Client:
            client = Client(http, headers)
            async with requested:  # joins once that many reports were requested (or all were)
                await requested.wait_for(lambda: count >= min(joins_after, len(plan["reports"])))
            for duration in rounds:  # join, stream a while, drop off, join again from a new snapshot
                await client.load()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(duration):
                        await client.follow(lambda: False)
            await client.load()
            following = asyncio.create_task(client.follow(lambda: False))
            try:
                while not (target and client.reports == target):
                    assert not following.done() or following.result() is None
                    await asyncio.sleep(0.02)
            finally:
                following.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await following
            return client

        devices = [
            asyncio.create_task(device(rounds, joins_after))
            for rounds, joins_after in zip(plan["clients"], plan["joins"], strict=False)
        ]
        await write()
        async with asyncio.timeout(20):
            while True:  # the server's final state: every report finished
                state = await server_state(http, headers)
                if len(state) == len(plan["reports"]) and all(v["status"] == "completed" for v in state.values()):
                    break
                await asyncio.sleep(0.05)
        target.update(state)
        async with asyncio.timeout(20):
            clients = await asyncio.gather(*devices)
        for client in clients:
            assert client.reports == target
