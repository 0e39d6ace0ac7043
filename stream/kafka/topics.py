"""Topic names, partition counts and configurations; idempotent creation.

Every landun topic lives in a *namespace* (``landun`` in production, a random one per test run):
``{ns}.pings``, ``{ns}.pings.rejected``, ``{ns}.events``, ``{ns}.alerts``, ``{ns}.fences``,
``{ns}.registry``, and the alert sink's dead letter ``{ns}.alerts.rejected``. The worker's Faust
table adds its changelog topic, ``{ns}-worker-state-changelog``; it is created here too,
compact-only and with the partition count of the pings topic (Faust tables must be co-
partitioned with their source, and a changelog that also deleted by time would lose the state of
quiet vehicles).

A vehicle's pings go to ``partition_for(vehicle, n)``: murmur2 of the UTF-8 id, the partitioner
of the Java client, kafka-python and aiokafka for a keyed record, so a producer that only sets
the key agrees with one that computes the partition itself (batched records).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import TopicAlreadyExistsError
from kafka.partitioner.default import murmur2

DEFAULT_NAMESPACE = "landun"
DEFAULT_PARTITIONS = 8
# The biggest record a producer may send (a batch of pings); the broker and topics allow it.
MAX_RECORD_BYTES = 1_048_576
_DAY_MS = 86_400_000

COMPACT = {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"}


class TopicError(RuntimeError):
    """A topic exists with a shape that landun cannot use (partition count, cleanup policy)."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic: name, partitions (None = as many as the pings topic) and configs."""

    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Topics:
    """The topic names of one namespace."""

    namespace: str = DEFAULT_NAMESPACE

    @property
    def pings(self) -> str:
        return f"{self.namespace}.pings"

    @property
    def rejected(self) -> str:
        return f"{self.namespace}.pings.rejected"

    @property
    def events(self) -> str:
        return f"{self.namespace}.events"

    @property
    def alerts(self) -> str:
        return f"{self.namespace}.alerts"

    @property
    def alerts_rejected(self) -> str:
        """Dead letter of the alert sink: alert/event records it could never store."""
        return f"{self.namespace}.alerts.rejected"

    @property
    def fences(self) -> str:
        return f"{self.namespace}.fences"

    @property
    def registry(self) -> str:
        return f"{self.namespace}.registry"

    @property
    def app_id(self) -> str:
        """The Faust application id (consumer group) of the stream workers."""
        return f"{self.namespace}-worker"

    def changelog(self, table: str) -> str:
        """Name Faust gives the changelog topic of ``table``."""
        return f"{self.app_id}-{table}-changelog"

    def specs(self, partitions: int = DEFAULT_PARTITIONS) -> list[TopicSpec]:
        """Every topic of the namespace with its partitions and configs."""
        big = {"max.message.bytes": str(MAX_RECORD_BYTES)}
        week = {"retention.ms": str(7 * _DAY_MS)}
        return [
            TopicSpec(self.pings, partitions, {**big, **week}),
            TopicSpec(self.rejected, partitions, {**big, "retention.ms": str(30 * _DAY_MS)}),
            TopicSpec(self.events, partitions, dict(week)),
            TopicSpec(self.alerts, partitions, {"retention.ms": str(365 * _DAY_MS)}),
            TopicSpec(self.alerts_rejected, 1, {"retention.ms": str(365 * _DAY_MS)}),
            # Reference data: few records, read whole by every worker; one partition keeps
            # their order (a fence replaced twice ends as the second version).
            TopicSpec(self.fences, 1, {**COMPACT, **big}),
            TopicSpec(self.registry, 1, dict(COMPACT)),
            TopicSpec(self.changelog("state"), partitions, {**COMPACT, **big}),
        ]


def partition_for(vehicle: str, partitions: int) -> int:
    """The partition of ``vehicle``'s pings (murmur2, as the clients' default partitioner)."""
    return (murmur2(vehicle.encode("utf-8")) & 0x7FFFFFFF) % partitions


def ensure_topics(
    bootstrap: str, topics: Topics, partitions: int = DEFAULT_PARTITIONS
) -> list[str]:
    """Create the namespace's missing topics; check the existing ones.

    Returns
    -------
    list of str
        Names of the topics created by this call (empty when all existed).

    Raises
    ------
    TopicError
        When an existing topic has another partition count than required, or a topic that must
        be compacted is not.
    """
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="landun-topics")
    try:
        specs = topics.specs(partitions)
        existing = set(admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        created = []
        if missing:
            new = [NewTopic(s.name, s.partitions, 1, topic_configs=s.config) for s in missing]
            try:
                admin.create_topics(new, timeout_ms=30_000, wait_for_metadata=True)
                created = [s.name for s in missing]
            except TopicAlreadyExistsError:  # a concurrent creator won the race
                created = []
        _check(admin, specs)
        return created
    finally:
        admin.close()


def _check(admin: KafkaAdminClient, specs: list[TopicSpec]) -> None:
    described = {t["name"]: t for t in admin.describe_topics([s.name for s in specs])}
    problems = []
    for spec in specs:
        found = len(described.get(spec.name, {}).get("partitions", ()))
        if found != spec.partitions:
            problems.append(f"{spec.name}: {found} partitions, landun needs {spec.partitions}")
    compacted = [s.name for s in specs if s.config.get("cleanup.policy") == "compact"]
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in compacted]
    configs = admin.describe_configs(resources).get("topic", {}) if resources else {}
    for name in compacted:
        # Only non-default settings are listed; the broker's default policy is delete.
        policy = configs.get(name, {}).get("cleanup.policy", {}).get("value", "delete")
        if policy != "compact":
            problems.append(f"{name}: cleanup.policy {policy!r}, landun needs 'compact'")
    if problems:
        raise TopicError("topics cannot be used as they are: " + "; ".join(problems))


def drop_namespace(bootstrap: str, namespace: str) -> list[str]:
    """Delete every topic whose name starts with ``namespace`` (the throwaway namespaces of tests
    and benchmarks); returns the names deleted."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        mine = [name for name in admin.list_topics() if name.startswith(namespace)]
        if mine:
            admin.delete_topics(mine)
        return mine
    finally:
        admin.close()


def read_to_end(bootstrap: str, topic: str, timeout_s: float = 120) -> list:
    """Every record of ``topic`` from the start up to its end offsets at the call, partition by
    partition (issue 15: never an idle cut-off, which read short on a slow fetch).

    Raises
    ------
    TimeoutError
        When the records cannot be read to the end in time (never a silent short read).
    """
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        got: dict[int, list] = {tp.partition: [] for tp in tps}
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: not read to its end offsets in {timeout_s:.0f} s")
            for tp, records in consumer.poll(timeout_ms=500).items():
                got[tp.partition].extend(r for r in records if r.offset < ends[tp])
        return [r for tp in tps for r in got[tp.partition]]
    finally:
        consumer.close()
