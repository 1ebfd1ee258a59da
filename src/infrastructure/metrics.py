"""Prometheus metrics, collected at scrape time from counters the components already keep.

Nothing on the event path calls into prometheus-client: the hub, the handler
and the Redis adapters count with plain integers, and this collector turns
them into metric families only when ``/metrics`` is read.
"""

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from infrastructure.brokers.counts import ConnectionCounts, PublishCounts
from infrastructure.persistence.relay import RelayStats
from infrastructure.service_name import SERVICE
from infrastructure.sse.handler import SSEEventHandler
from infrastructure.streams.deliveries import COMMIT_TO_SOCKET_BUCKETS
from infrastructure.streams.hub import StreamHub
from infrastructure.streams.stats import LATENCY_BUCKETS


def _cumulative(bounds: tuple[float, ...], counts: list[int]) -> list[tuple[str, float]]:
    """Prometheus' cumulative buckets (``le``) from per-bucket counts, the last one above every bound."""
    cumulative, buckets = 0, []
    for bound, count in zip((*bounds, float("inf")), counts, strict=True):
        cumulative += count
        buckets.append(("+Inf" if bound == float("inf") else repr(bound), float(cumulative)))
    return buckets


def _by_label(name: str, documentation: str, label: str, counts: dict[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=[label])
    for value, count in sorted(counts.items()):
        family.add_metric([value], count)
    return family


class HeraldCollector(Collector):
    """Herald's metrics; the Redis ones appear only when the Redis adapters are in use."""

    def __init__(
        self,
        hub: StreamHub,
        handler: SSEEventHandler,
        publisher: PublishCounts | None,
        subscriber: ConnectionCounts | None,
        outbox: RelayStats,
    ) -> None:
        self._hub = hub
        self._outbox = outbox
        self._handler = handler
        self._publisher_stats = publisher
        self._channels = subscriber

    def collect(self) -> Iterator[Metric]:
        stats = self._hub.stats
        yield GaugeMetricFamily(
            SERVICE.metric("open_streams"), "SSE streams open on this process", value=self._hub.open_streams
        )
        yield CounterMetricFamily(
            SERVICE.metric("streams_opened"), "SSE streams opened on this process", value=stats.opened
        )
        yield _by_label(SERVICE.metric("streams_ended"), "SSE streams ended, by reason", "reason", stats.ended)
        yield _by_label(
            SERVICE.metric("streams_refused"),
            "SSE streams that did not open: a limit reached (process_full, user_full, too_fast) "
            "or the broker unavailable, by reason",
            "reason",
            stats.refused,
        )
        yield _by_label(
            SERVICE.metric("events_published"), "SSE events published, by type", "type", self._handler.published
        )
        yield _by_label(
            SERVICE.metric("events_publish_failed"),
            "SSE events that failed to publish, by type",
            "type",
            self._handler.failed,
        )
        yield _by_label(
            SERVICE.metric("events_delivered"),
            "SSE events queued on local streams (one per stream), by type",
            "type",
            stats.delivered,
        )
        yield CounterMetricFamily(
            SERVICE.metric("resumes"), "streams resumed or caught up from retention", value=stats.resumes
        )
        yield CounterMetricFamily(
            SERVICE.metric("replayed_events"), "events replayed to resuming streams", value=stats.replayed
        )
        yield HistogramMetricFamily(
            SERVICE.metric("fanout_latency_seconds"),
            "from an event's occurred_at to its queueing on every local recipient stream",
            buckets=_cumulative(LATENCY_BUCKETS, stats.latency_buckets),
            sum_value=stats.latency_sum,
        )
        commit_to_socket = HistogramMetricFamily(
            SERVICE.metric("commit_to_socket_seconds"),
            "from the commit of the change that raised an event to its frame written to a stream's socket, "
            "by category (once per stream that got it)",
            labels=["category"],
        )
        for category, histogram in self._hub.deliveries.latency.by_category.items():
            commit_to_socket.add_metric(
                [category.value], _cumulative(COMMIT_TO_SOCKET_BUCKETS, histogram.buckets), histogram.total
            )
        yield commit_to_socket
        outbox = self._outbox
        yield GaugeMetricFamily(
            SERVICE.metric("outbox_backlog"), "events committed and not yet published", value=outbox.backlog
        )
        yield GaugeMetricFamily(
            SERVICE.metric("outbox_oldest_seconds"),
            "age of the oldest event not yet published",
            value=outbox.oldest_seconds,
        )
        yield CounterMetricFamily(SERVICE.metric("outbox_published"), "outbox events published", value=outbox.published)
        yield CounterMetricFamily(
            SERVICE.metric("outbox_undeliverable"),
            "outbox events set aside as undeliverable",
            value=outbox.undeliverable,
        )
        yield CounterMetricFamily(
            SERVICE.metric("outbox_failed_passes"),
            "relay passes that failed (broker or database away)",
            value=outbox.failed_attempts,
        )
        if self._publisher_stats is not None:
            publisher = self._publisher_stats
            yield CounterMetricFamily(
                SERVICE.metric("redis_publish_failures"),
                "failed Redis publish attempts",
                value=publisher.failed_attempts,
            )
            yield CounterMetricFamily(
                SERVICE.metric("redis_publish_retried"), "events published on a retry", value=publisher.retried
            )
            yield CounterMetricFamily(
                SERVICE.metric("redis_publish_deduplicated"),
                "retried events found already written by an attempt whose answer was lost",
                value=publisher.deduplicated,
            )
            yield _by_label(
                SERVICE.metric("events_dropped"),
                "SSE event messages (one per log it went to) dropped after Redis stayed down, by type",
                "type",
                publisher.dropped_by_type,
            )
            yield GaugeMetricFamily(
                SERVICE.metric("redis_publish_waiting"), "events waiting for Redis", value=publisher.waiting
            )
        if self._channels is not None:
            yield CounterMetricFamily(
                SERVICE.metric("redis_reconnects"), "pub/sub reconnects", value=self._channels.reconnects
            )
            yield CounterMetricFamily(
                SERVICE.metric("redis_outages"), "pub/sub connections lost", value=self._channels.outages
            )


def metrics_registry(
    hub: StreamHub,
    handler: SSEEventHandler,
    publisher: PublishCounts | None,
    subscriber: ConnectionCounts | None,
    outbox: RelayStats,
) -> CollectorRegistry:
    """A registry of this application's own (not the process-global one), so each app has its metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HeraldCollector(hub, handler, publisher, subscriber, outbox))
    return registry
