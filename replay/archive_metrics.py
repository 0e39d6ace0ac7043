"""The archive consumer's Prometheus counters (``landun archive --port``: /metrics; issue 12)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class ArchiveMetrics:
    """The consumer's counters, on its own registry (``landun archive --port``: /metrics)."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.pings = Counter(
            "landun_archive_pings_total", "Ping rows archived, by verdict", ["verdict"], registry=r
        )
        self.records = Counter(
            "landun_archive_records_total",
            "Records archived, by source topic and outcome (archived, refused)",
            ["topic", "outcome"],
            registry=r,
        )
        self.batches = Counter(
            "landun_archive_batches_total", "Batches written, by outcome", ["outcome"], registry=r
        )
        self.failing = Gauge(
            "landun_archive_write_failing",
            "1 while archive writes fail (disk full...): nothing is committed, the batch waits",
            registry=r,
        )
        self.letters = Gauge(
            "landun_archive_dead_letters_held",
            "Pings records with dead letters read but not archived yet",
            registry=r,
        )
        self.gaps = Counter(
            "landun_archive_gaps_total",
            "Offsets of a non-compacted topic gone before they were archived (retention)",
            ["topic"],
            registry=r,
        )
        self.watermark = Gauge(
            "landun_archive_worker_watermark",
            "Next pings offset not yet covered by a durable worker checkpoint",
            ["partition"],
            registry=r,
        )
