"""Delivery diagnostics' providers: the composition root includes them as its ``diagnostics`` sub-container.

Each port has the embedded broker's adapter (this process's memory) and the Redis one (every process's,
shared); the root's broker selection picks one, and nothing of the other starts.
"""

from dependency_injector import containers, providers

from infrastructure.brokers.memory import InMemoryBroker
from infrastructure.brokers.redis.keys import RedisKeys
from infrastructure.diagnostics.memory_logs import MemoryBrokerLogs
from infrastructure.diagnostics.records import LocalDeliveryRecords, process_name
from infrastructure.diagnostics.redis_logs import RedisBrokerLogs
from infrastructure.diagnostics.shared_records import SharedDeliveryRecords, run_shared_records
from infrastructure.persistence.database import Database
from infrastructure.persistence.outbox import Outbox
from infrastructure.persistence.outbox_entries import SqlOutboxEntries
from infrastructure.settings import Settings
from infrastructure.sse.handler import SSEEventHandler
from infrastructure.sse.wire_format import WireFormat
from infrastructure.streams.hub import StreamHub


class DiagnosticsProviders(containers.DeclarativeContainer):
    """The outbox's rows, the broker's logs and the recent deliveries, as the diagnostics read them."""

    settings = providers.Dependency(instance_of=Settings)
    hub = providers.Dependency(instance_of=StreamHub)
    wire_format = providers.Dependency(instance_of=WireFormat)
    memory_broker = providers.Dependency(instance_of=InMemoryBroker)
    redis_client = providers.Dependency(instance_of=object)  # a Redis or a RedisCluster
    redis_keys = providers.Dependency(instance_of=RedisKeys)
    database = providers.Dependency(instance_of=Database)
    outbox = providers.Dependency(instance_of=Outbox)
    handler = providers.Dependency(instance_of=SSEEventHandler)

    process = providers.Singleton(process_name)
    outbox_entries = providers.Singleton(SqlOutboxEntries, database=database, box=outbox, handler=handler)
    broker_logs = providers.Selector(
        settings.provided.broker_kind,
        memory=providers.Singleton(MemoryBrokerLogs, broker=memory_broker, retention=settings.provided.sse_retention),
        redis=providers.Singleton(
            RedisBrokerLogs, client=redis_client, keys=redis_keys, retention=settings.provided.sse_retention
        ),
    )
    # The Redis records are a resource: their flush runs for as long as the application does.
    records = providers.Selector(
        settings.provided.broker_kind,
        memory=providers.Singleton(LocalDeliveryRecords, recent=hub.provided.deliveries, process=process),
        redis=providers.Resource(
            run_shared_records,
            records=providers.Singleton(
                SharedDeliveryRecords,
                client=redis_client,
                keys=redis_keys,
                wire_format=wire_format,
                recent=hub.provided.deliveries,
                process=process,
            ),
        ),
    )
