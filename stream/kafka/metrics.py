"""Prometheus metrics of the stream worker (served with Faust's own on ``/metrics``).

Kept in a registry of their own so that tests and several apps in one process do not collide;
``landun worker`` serves this registry and Faust's sensors together.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from stream.ping import Ping


class WorkerMetrics:
    """Counters of one worker process."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.pings_in = Counter(
            "landun_pings_in",
            "Pings read from the pings topic (records of batches counted)",
            registry=r,
        )
        # Accepted pings that lost a bad optional field, by field (issue 11: a gateway sending
        # "lift": 1 blinds every tipper rule; this is where it shows).
        self.warnings = Counter(
            "landun_ping_warnings",
            "Bad optional fields dropped from accepted pings (the ping kept), by field",
            ["field"],
            registry=r,
        )
        self.rejected = Counter(
            "landun_pings_rejected",
            "Pings and records sent to the dead letter",
            ["reason"],
            registry=r,
        )
        self.alerts = Counter(
            "landun_alerts", "Alert versions produced, by type", ["type"], registry=r
        )
        self.events = Counter(
            "landun_events", "Trip, stop and fence events produced, by kind", ["kind"], registry=r
        )
        self.skipped = Counter(
            "landun_records_replayed",
            "Records re-delivered after a restart and skipped (already in the checkpoint)",
            registry=r,
        )
        self.gaps = Counter(
            "landun_offset_gaps",
            "Pings offsets jumped past the checkpoint and could not be read again (input lost)",
            registry=r,
        )
        self.filled = Counter(
            "landun_gap_records_read",
            "Records read directly from Kafka because Faust resumed past the checkpoint",
            registry=r,
        )
        self.batch_seconds = Histogram(
            "landun_batch_seconds",
            "Time to run one micro-batch: engine, outputs, checkpoint",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.batch_pings = Histogram(
            "landun_batch_pings",
            "Pings per micro-batch",
            buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000, 25000),
            registry=r,
        )
        self.age = Histogram(
            "landun_record_age_seconds",
            "Age of a batch's oldest pings record when the batch starts (now - record timestamp)",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.lag = Gauge(
            "landun_consumer_lag",
            "Records behind the end of the partition",
            ["partition"],
            registry=r,
        )
        self.errors = Counter(
            "landun_batch_errors",
            "Batches whose engine run failed (records dead-lettered)",
            registry=r,
        )
        self.recovery_seeks = Counter(
            "landun_recovery_seeks",
            "Stalled changelog partitions sought again during table recovery (recovery_watch)",
            registry=r,
        )
        self.reference = Counter(
            "landun_reference_records",
            "Reference records applied or refused",
            ["topic", "outcome"],
            registry=r,
        )

    def count_warnings(self, pings: Iterable[Ping]) -> None:
        """Count the warnings of decoded pings by field (``landun_ping_warnings_total``)."""
        fields = Tally(name for p in pings if p.warnings for name in p.warned_fields())
        for name, n in fields.items():
            self.warnings.labels(name).inc(n)
