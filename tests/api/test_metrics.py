"""``/metrics``, on the metrics listener, tells what happened in Prometheus' text format."""

import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import TokenFactory
from tests.integration.helpers import eventually
from tests.support.server import RunningHerald
from tests.support.streams import StreamReader

Metrics = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: httpx.AsyncClient, metrics_url: str) -> Metrics:
    response = await client.get(metrics_url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def test_metrics_follow_streams_events_and_resumes(
    service: RunningHerald, client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    user = uuid.uuid4()
    async with StreamReader(client, "/api/v1/events", headers=auth(user)) as stream:
        await client.post("/api/v1/reports", json={"title": "measured"}, headers=auth(user))
        await stream.wait_for_count(5)
        during = await scrape(client, service.metrics_url)
    resume = {**auth(user), "Last-Event-ID": stream.events[1].id}
    async with StreamReader(client, "/api/v1/events", headers=resume) as resumed:
        await resumed.wait_for_count(3)
    after: Metrics = {}

    async def both_released() -> bool:  # a stream is released a moment after its close
        nonlocal after
        after = await scrape(client, service.metrics_url)
        return after.get(("herald_streams_ended_total", (("reason", "client_gone"),))) == 2

    await eventually(both_released)

    assert during[("herald_open_streams", ())] == 1
    assert during[("herald_events_published_total", (("type", "report.progress"),))] == 3
    assert during[("herald_events_delivered_total", (("type", "report.completed"),))] == 1
    assert during[("herald_fanout_latency_seconds_count", ())] == 5
    # Each frame written, timed from its commit: durable events from their outbox row's.
    assert during[("herald_commit_to_socket_seconds_count", (("category", "reports"),))] == 5
    assert during[("herald_commit_to_socket_seconds_count", (("category", "system"),))] == 0
    assert after[("herald_resumes_total", ())] == 1
    assert after[("herald_replayed_events_total", ())] == 3

    assert not [name for name, _ in after if name.startswith("herald_redis")]  # embedded broker: no Redis metrics
