"""kill -9 `landun archive` mid-run, restart it: no row lost, none twice, `_committed.json`
consistent (issue 12). The night streams in while the archive runs, small files (--batch 20)."""

from __future__ import annotations

from collections import Counter

import orjson
from kafka import KafkaConsumer, TopicPartition

from replay.committed import read_committed
from replay.layout import SourceRange
from tests.replay.stream_archive import (
    archive_process,
    dead_letters,
    ingest_process,
    ping_items,
    table,
    verdict_counts,
)
from tests.stream.kafka import conftest as kafka
from tests.stream.kafka.conftest import PARTITIONS, end_offsets, read_topic, wait_for
from tests.stream.kafka.verify import caught_up

bootstrap, topics, sim, workers = kafka.bootstrap, kafka.topics, kafka.sim, kafka.workers


def group_offsets(bootstrap, topics) -> dict[int, int]:
    """The archive group's committed offsets of the pings topic."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=f"{topics.namespace}-archive")
    try:
        tps = [TopicPartition(topics.pings, p) for p in range(PARTITIONS)]
        return {tp.partition: consumer.committed(tp) or 0 for tp in tps}
    finally:
        consumer.close()


def pings_committed(archive) -> int:
    committed = read_committed(archive)
    return sum(committed["pings"].values()) if committed else 0


def test_kill9_mid_run_then_restart_loses_nothing_and_repeats_nothing(
    bootstrap, topics, sim, workers, tmp_path
):
    worker = workers()
    feed = ingest_process(bootstrap, topics, sim, "--batch", "20", "--rate", "1500", "--final")
    archive, log = tmp_path / "archive", tmp_path / "archive.log"
    first = archive_process(bootstrap, topics, archive, log, "--batch", "20", "--linger", "0.05")
    wait_for(worker.ready, 90, "the worker to be ready")
    wait_for(lambda: pings_committed(archive) > 1000, 90, "the archive to get going")
    first.kill()  # SIGKILL
    first.wait(10)
    assert pings_committed(archive) < sum(end_offsets(bootstrap, topics.pings).values())

    # At the kill: everything below the committed offsets is in the archive, once.
    committed = read_committed(archive)
    group = group_offsets(bootstrap, topics)
    assert all(n <= group[p] for p, n in committed["pings"].items())  # never ahead of Kafka
    offsets = {(r["partition"], r["offset"]) for r in table(archive, "pings")}
    sent = {(p, o) for (p, o, _) in ping_items(bootstrap, topics)}
    for p, n in committed["pings"].items():
        assert {o for q, o in sent if q == p and o < n} <= {o for q, o in offsets if q == p}

    assert feed.wait(120) == 0
    wait_for(lambda: caught_up(bootstrap, topics), 120, "the worker to process every record")
    second = archive_process(bootstrap, topics, archive, log, "--batch", "20", "--linger", "0.05",
                             "--idle-exit", "3")  # fmt: skip
    assert second.wait(120) == 0, log.read_text()[-3000:]

    rows = table(archive, "pings")
    keys = Counter((r["partition"], r["offset"], r["index"]) for r in rows)
    assert set(keys) == set(ping_items(bootstrap, topics))  # none lost
    assert max(keys.values()) == 1  # none twice
    letters = dead_letters(bootstrap, topics)
    assert verdict_counts(rows) == Counter(d["reason"] for d in letters)
    alerts = {orjson.loads(r.value)["id"] for r in read_topic(bootstrap, topics.alerts)}
    assert {a["id"] for a in table(archive, "alerts")} == alerts
    events = Counter(orjson.loads(r.value)["event"] for r in read_topic(bootstrap, topics.events))
    assert len(table(archive, "stops")) == events["stop"]  # no version column: a copy shows
    assert len(table(archive, "fence_events")) == events["fence"]
    committed = read_committed(archive)
    for name in ("pings", "alerts", "events", "fences", "registry"):
        assert committed[name] == end_offsets(bootstrap, getattr(topics, name)), name
    # No two files of one partition overlap in any table and day (a leftover of the first life).
    for folder in archive.glob("*/day=*"):
        ranges = [SourceRange.from_file_name(f.name) for f in folder.glob("*.parquet")]
        for a in ranges:
            assert not any(a != b and a.overlaps(b) for b in ranges), folder
