"""The gateway's registry from the ``{ns}.registry`` topic, followed live (issue 14).

The workers read the registry from this compacted topic; reading the same topic, the gateway
knows exactly the vehicles they know, and a truck published with ``landun ingest --registry``
can register within a second, without a restart or a file to copy to the gateway's host. Only
``vehicles/<id>`` records matter here; they are kept as published (with the gateway's own keys,
``terminal_datum``, ``load_sensor``..., which the engine ignores; gateway.directory).
"""

from __future__ import annotations

import asyncio
import logging

from gateway.directory import Directory

log = logging.getLogger(__name__)


async def follow_registry(bootstrap: str, topic: str, directory: Directory, ready: asyncio.Event):
    """Read ``topic`` from the start into ``directory``, set ``ready`` once caught up with
    what was there at start-up, then follow it until cancelled."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="landun-gateway-registry",
    )
    try:
        await consumer.start()  # inside: a start that fails (Kafka down) still closes the client
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        while True:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for records in batch.values():
                for rec in records:
                    directory.apply_record(rec.key, rec.value)
            if not ready.is_set() and await consumer.position(tp) >= end:
                log.info("registry read: %d terminals", len(directory))
                ready.set()
    finally:
        await consumer.stop()
