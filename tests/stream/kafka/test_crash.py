"""Crash tests: kill -9 a worker mid-stream; a second worker takes over a killed one's partitions.

Afterwards the alerts equal `landun detect`'s (no id missing, none extra, final versions equal)
and the checkpointed state equals a linear rebuild of every partition.
"""

from __future__ import annotations

import threading
import time

import orjson

from stream.kafka.producer import PingSender, make_producer, publish_reference
from tests.stream.kafka.conftest import PARTITIONS, wait_for
from tests.stream.kafka.verify import alert_versions, caught_up, checkpointed, context, linear


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


def expected_alerts(sim):
    return {a["id"]: a for a in map(orjson.loads, (sim / "alerts.jsonl").read_bytes().splitlines())}


def check_outcome(bootstrap, topics, sim):
    final, ids = alert_versions(bootstrap, topics)
    expected = expected_alerts(sim)
    assert set(final) == set(expected), "alert ids missing or extra"
    assert final == expected
    assert set(ids) == set(expected)  # duplicates only repeat known ids (idempotent)
    assert checkpointed(bootstrap, topics) == linear(bootstrap, topics, context(sim))


def test_kill9_mid_stream_and_restart(bootstrap, topics, sim, workers):
    first = workers("--batch", "100", "--within", "0.02")
    feed = PacedFeed(bootstrap, topics, sim)
    wait_for(first.ready, 90, "the worker to be ready")
    feed.start()
    wait_for(lambda: first.metric("landun_pings_in_total") > 1500, 60, "progress")
    first.kill()
    assert not caught_up(bootstrap, topics)
    second = workers("--batch", "100", "--within", "0.02")
    wait_for(second.ready, 90, "the restarted worker to be ready")
    feed.join(120)
    wait_for(lambda: caught_up(bootstrap, topics), 90, "the restarted worker to catch up")
    check_outcome(bootstrap, topics, sim)


def test_second_worker_takes_over_a_killed_ones_partitions(bootstrap, topics, sim, workers):
    a = workers("--batch", "100", "--within", "0.02")
    b = workers("--batch", "100", "--within", "0.02")

    def split() -> bool:
        owned = [orjson.loads(w.get("/readyz")[1] or b"{}").get("partitions") for w in (a, b)]
        return all(owned) and sorted(owned[0] + owned[1]) == list(range(PARTITIONS))

    wait_for(lambda: a.ready() and b.ready() and split(), 120, "two ready workers sharing work")
    feed = PacedFeed(bootstrap, topics, sim)
    feed.gate.clear()
    feed.start()
    wait_for(lambda: b.metric("landun_pings_in_total") > 300, 60, "the second worker's progress")
    b.kill()
    killed = time.monotonic()
    feed.gate.set()

    def took_over() -> bool:
        body = orjson.loads(a.get("/readyz")[1] or b"{}")
        return body.get("partitions") == list(range(PARTITIONS)) and body.get("ready")

    wait_for(took_over, 60, "the survivor to own every partition")
    print(f"partitions moved {time.monotonic() - killed:.1f}s after kill -9")
    feed.join(120)
    wait_for(lambda: caught_up(bootstrap, topics), 90, "the survivor to catch up")
    check_outcome(bootstrap, topics, sim)
