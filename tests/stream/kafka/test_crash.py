"""Crash tests: kill -9 a worker mid-stream; a second worker takes over a killed one's partitions.

Afterwards (issue 15) every record of the alerts topic is counted: no alert version twice except
a re-run of work no checkpoint covered, and the versions of each id as the engine makes them
(tests/stream/kafka/copies.py); the final alerts equal `landun detect`'s on the same pings, the
same ids with the same contents, field by field; and the checkpointed state equals a linear
rebuild of every partition. The mid-stream kill runs a fleet that raises hundreds of alerts.

Reference data is published before the workers start: pings that reach a worker before it has
the registry are rejected (unknown vehicle), as they should be, but a linear rebuild with the
registry would then differ (4 of 32 takeover runs, 3 of 8 with the CPU loaded, when the feed
published it after the workers were ready).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

from landun.cli import main as landun
from sim import violations
from stream.kafka.checkpoint import meta_key
from stream.kafka.producer import PingSender, make_producer, publish_reference
from tests.stream.kafka.conftest import PARTITIONS, detect, end_offsets, wait_for
from tests.stream.kafka.copies import alert_copies, assert_alerts, state_loads
from tests.stream.kafka.verify import (
    caught_up,
    checkpoint_offsets,
    checkpointed,
    context,
    linear,
)

# Issue 15: the mid-stream kill ran 30 vehicles over 3 hours, 10 alerts from 6,566 pings. This
# fleet gives 323 alerts of 8 types from 57,275 pings: every vehicle is given a violation (the
# simulator's default is 3.5 % of muck trucks and 9 % of the others per kind of violation), and
# the night starts at 21:00, when the muck trucks haul (from 18:00 the first hours are quiet).
# Kitchen-waste violations need a longer night (300 vehicles over 2 h: 339 alerts of 11 types
# from 84,501 pings, 30 s more on this machine); the takeover test's night has them.
FLEET = ["--vehicles", "340", "--hours", "1.5", "--seed", "3", "--start", "2025-06-02T21:00+08:00"]
FLEET_RATES = {"MUCK_RATE": 1.0, "KITCHEN_RATE": 1.0, "NEAR_RATE": 0.0}
FLEET_ALERTS = 300  # at least this many in the crashed run


class PacedFeed(threading.Thread):
    """Sends the simulation's pings in small batch records, paced, then the final markers."""

    def __init__(self, bootstrap, topics, sim, chunk=150, pause=0.12):
        super().__init__(daemon=True)
        self.producer = make_producer(bootstrap)
        publish_reference(self.producer, topics, sim / "fences.geojson", sim / "registry.json")
        self.sender = PingSender(self.producer, topics, PARTITIONS, batch_pings=40)
        self.lines = (sim / "pings.jsonl").read_bytes().splitlines()
        self.chunk, self.pause = chunk, pause
        self.gate = threading.Event()  # cleared: the feed waits before its second half
        self.gate.set()

    def run(self):
        half = len(self.lines) // 2
        for start in range(0, len(self.lines), self.chunk):
            if start >= half:
                self.gate.wait(120)
            self.sender.send_lines(self.lines[start : start + self.chunk])
            self.sender.flush()
            time.sleep(self.pause)
        self.sender.final()
        self.producer.close()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Path:
    """`landun sim` files of :data:`FLEET` and `landun detect`'s alerts for them."""
    out = tmp_path_factory.mktemp("fleet")
    with pytest.MonkeyPatch.context() as patch:
        for name, rate in FLEET_RATES.items():
            patch.setattr(violations, name, rate)
        assert landun(["sim", *FLEET, "--out", str(out)]) == 0
    detect(out, out / "fences.geojson", out / "registry.json", out / "pings.jsonl", "alerts")
    return out


def expected_alerts(sim):
    return {a["id"]: a for a in map(orjson.loads, (sim / "alerts.jsonl").read_bytes().splitlines())}


def check_outcome(bootstrap, topics, sim, log_dir: Path) -> dict[str, dict]:
    """Counts the alert records, compares the final alerts with `landun detect`'s and the
    checkpointed state with a linear rebuild; the final alerts."""
    print("state loads by partition (epoch ms, next offset):", state_loads(log_dir))
    final = assert_alerts(bootstrap, topics, expected_alerts(sim), log_dir)
    assert checkpointed(bootstrap, topics) == linear(bootstrap, topics, context(sim))
    return final


def test_kill9_mid_stream_and_restart(bootstrap, topics, fleet, workers, tmp_path):
    feed = PacedFeed(bootstrap, topics, fleet, chunk=2000, pause=0.1)  # reference data first
    first = workers("--batch", "100", "--within", "0.02")
    wait_for(first.ready, 90, "the worker to be ready")
    feed.start()
    total = len(feed.lines)
    wait_for(lambda: first.metric("landun_pings_in_total") > total // 3, 60, "progress")
    first.kill()
    killed_ms = time.time() * 1000
    # Issue 15: positive evidence of a kill mid-stream, not "not caught up" (which a cut-short
    # read of the changelog also gave): checkpoints cover some pings, and some are left over.
    offsets = checkpoint_offsets(bootstrap, topics).values()
    assert sum(done for done, _ in offsets) > 0, "the first worker checkpointed nothing"
    assert any(done < end for done, end in offsets), "nothing was left for the restart"
    second = workers("--batch", "100", "--within", "0.02")
    wait_for(second.ready, 90, "the restarted worker to be ready")
    feed.join(120)
    wait_for(lambda: caught_up(bootstrap, topics), 90, "the restarted worker to catch up")
    final = check_outcome(bootstrap, topics, fleet, tmp_path)
    assert len(final) >= FLEET_ALERTS, f"{len(final)} alerts: the crash should carry hundreds"
    before = {c.alert["id"] for c in alert_copies(bootstrap, topics) if c.ts_ms < killed_ms}
    assert 0 < len(before) < len(final), f"{len(before)} alerts out before the kill: not mid-stream"


# Issue 10: from the kill -9 to the survivor owning every partition and having processed, in a
# durable checkpoint, everything the killed worker's partitions held at the kill. Measured on each
# run (three runs per test session: a recovery stall was once seen in 1 of 12 runs).
RECOVERY_TARGET_S = 30.0


class CheckpointWatch:
    """Follows the metas (``p/<n>``) of some partitions in the state changelog from ``start()`` on:
    after a kill -9 every new one is a checkpoint of the survivor."""

    def __init__(self, bootstrap, topics, partitions):
        changelog = topics.changelog("state")
        self.tps = [TopicPartition(changelog, p) for p in partitions]
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.consumer.assign(self.tps)
        self.next_offset: dict[int, int] = {}

    def start(self) -> None:
        self.consumer.seek_to_end(*self.tps)
        for tp in self.tps:
            self.consumer.position(tp)  # resolved now: older metas are not the survivor's

    def covers(self, ends: dict[int, int]) -> bool:
        """True once a new checkpoint of each partition covers its offsets below ``ends[p]``."""
        for records in self.consumer.poll(timeout_ms=100).values():
            for rec in records:
                if rec.key == meta_key(rec.partition) and rec.value:
                    offset = orjson.loads(rec.value)["next_offset"]
                    self.next_offset[rec.partition] = max(
                        offset, self.next_offset.get(rec.partition, -1)
                    )
        return all(self.next_offset.get(p, -1) >= end for p, end in ends.items())

    def close(self) -> None:
        self.consumer.close()


@pytest.mark.parametrize("run", range(3))
def test_second_worker_takes_over_a_killed_ones_partitions(
    bootstrap, topics, sim, workers, run, tmp_path
):
    feed = PacedFeed(bootstrap, topics, sim)  # publishes the reference data first
    a = workers("--batch", "100", "--within", "0.02")
    b = workers("--batch", "100", "--within", "0.02")

    def owned(w) -> list[int] | None:
        return orjson.loads(w.get("/readyz")[1] or b"{}").get("partitions")

    def split() -> bool:
        parts = [owned(w) for w in (a, b)]
        return all(parts) and sorted(parts[0] + parts[1]) == list(range(PARTITIONS))

    wait_for(lambda: a.ready() and b.ready() and split(), 120, "two ready workers sharing work")
    lost = owned(b)
    watch = CheckpointWatch(bootstrap, topics, lost)
    feed.gate.clear()
    feed.start()
    wait_for(lambda: b.metric("landun_pings_in_total") > 300, 60, "the second worker's progress")
    b.kill()
    killed = time.monotonic()
    watch.start()
    ends = {p: end for p, end in end_offsets(bootstrap, topics.pings).items() if p in lost}
    feed.gate.set()

    def took_over() -> bool:
        body = orjson.loads(a.get("/readyz")[1] or b"{}")
        owns = body.get("partitions") == list(range(PARTITIONS)) and body.get("ready")
        return watch.covers(ends) and bool(owns)

    try:
        deadline = killed + 2 * RECOVERY_TARGET_S
        while not took_over() and time.monotonic() < deadline:
            time.sleep(0.1)
        recovery = time.monotonic() - killed
    finally:
        watch.close()
    print(f"takeover {run}: partitions {lost} owned and processed {recovery:.1f}s after kill -9")
    assert recovery <= RECOVERY_TARGET_S, (
        f"partitions {lost} of the killed worker not owned and processed by the survivor "
        f"{recovery:.1f}s after kill -9 (target {RECOVERY_TARGET_S:.0f}s); checkpoints seen "
        f"{watch.next_offset}, needed {ends}; survivor log:\n{_recovery_log(a.log)}"
    )
    feed.join(120)
    wait_for(lambda: caught_up(bootstrap, topics), 90, "the survivor to catch up")
    check_outcome(bootstrap, topics, sim, tmp_path)


def _recovery_log(path) -> str:
    lines = path.read_text(errors="replace").splitlines()
    keep = ("Recovery", "generation", "WARNING", "ERROR", "rebalanc")
    return "\n".join(line[:300] for line in lines if any(k in line for k in keep))[-6000:]
