"""Kafka side of the stream bench: worker processes, the durable-checkpoint clock, topic reads.

The throughput clock stops when the work is *durable*, not when a counter says the pings were
read (issue 15): ``landun_pings_in_total`` rises when a record is decoded, before its outputs are
acknowledged and before a checkpoint covers it. A worker writes a partition's checkpoint meta
(key ``p/<N>`` in its state changelog, ``next_offset`` = the first pings offset not in the
state) only after Kafka has acknowledged every output sent before it
(``stream.kafka.runner``), so the changelog record of the first meta whose ``next_offset``
reaches the partition's end is the moment that partition's outputs and state are both on the
broker. :class:`DurableWatch` tails the changelog for those records and keeps their timestamps
(set by the worker's producer on this machine's clock).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import orjson
from kafka import KafkaConsumer, TopicPartition

from stream.kafka.checkpoint import meta_key
from stream.kafka.topics import Topics, ensure_topics, read_to_end

ROOT = Path(__file__).resolve().parents[1]


def fresh_topics(bootstrap: str, partitions: int) -> Topics:
    """A new namespace with every topic created."""
    topics = Topics(f"bench{uuid.uuid4().hex[:8]}")
    ensure_topics(bootstrap, topics, partitions)
    return topics


class Workers:
    """``landun worker`` processes of one namespace, each with its own data directory."""

    def __init__(
        self, bootstrap: str, topics: Topics, partitions: int, n: int, work: Path, extra=()
    ):
        self.procs, self.ports, self.logs = [], [], []
        for i in range(n):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            data = work / f"{topics.namespace}-{i}"
            cmd = [sys.executable, "-m", "landun.cli", "worker", "--bootstrap", bootstrap,
                   "--namespace", topics.namespace, "--partitions", str(partitions),
                   "--store", "memory://", "--port", str(port), "--standby", "0",
                   "--datadir", str(data), *extra]  # fmt: skip
            path = work / f"worker-{topics.namespace}-{i}.log"
            log = path.open("wb")
            self.procs.append(subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=log))
            self.logs.append(path)
            self.ports.append(port)

    def metric(self, name: str) -> float | None:
        """The sum of a metric over the workers; None when a worker did not answer."""
        total = 0.0
        for port in self.ports:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    body = r.read().decode()
            except OSError:
                return None
            total += sum(
                float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
                if line.startswith(name + " ") or line.startswith(name + "{")
            )  # fmt: skip
        return total

    def check_alive(self) -> None:
        """Raise when a worker exited (its HTTP port taken between choosing and binding it, a
        crash...): the bench must not wait out its timeout and report nothing."""
        for proc, log in zip(self.procs, self.logs, strict=True):
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode}; see {log}")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the worker processes so far (Linux /proc)."""
        total = 0.0
        for proc in self.procs:
            try:
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def wait_ready(self, timeout: float) -> None:
        """Until every worker's ``/readyz`` answers 200 (a readiness probe, not a sleep)."""
        deadline = time.monotonic() + timeout
        for port in self.ports:
            while True:
                try:
                    url = f"http://127.0.0.1:{port}/readyz"
                    with urllib.request.urlopen(url, timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                self.check_alive()
                if time.monotonic() > deadline:
                    raise RuntimeError("worker not ready")
                time.sleep(0.2)

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Each partition's end offset now."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        return {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


class DurableWatch:
    """Tails a namespace's state changelog; per pings partition, the timestamp (epoch ms) of the
    first checkpoint meta covering ``ends[partition]``."""

    def __init__(self, bootstrap: str, topics: Topics, ends: dict[int, int]):
        self.ends = ends
        self.covered: dict[int, int] = {}
        self.keys = {meta_key(p): p for p in ends}
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        topic = topics.changelog("state")
        tps = [TopicPartition(topic, p) for p in sorted(ends)]
        self.consumer.assign(tps)
        self.consumer.seek_to_beginning(*tps)

    def poll(self, timeout_ms: int = 100) -> bool:
        """Read what arrived; True when every partition is covered."""
        for records in self.consumer.poll(timeout_ms=timeout_ms).values():
            for rec in records:
                p = self.keys.get(rec.key)
                if p is None or p in self.covered or rec.value is None:
                    continue
                if orjson.loads(rec.value)["next_offset"] >= self.ends[p]:
                    self.covered[p] = rec.timestamp
        return self.done

    @property
    def done(self) -> bool:
        return len(self.covered) == len(self.ends)

    def end_ms(self) -> int | None:
        """When the last partition became durable (None until all are)."""
        return max(self.covered.values()) if self.done else None

    def close(self) -> None:
        self.consumer.close()


def final_alerts(bootstrap: str, topics: Topics) -> dict[str, dict]:
    """The last version of every alert id on the namespace's alerts topic."""
    out: dict[str, dict] = {}
    for rec in read_to_end(bootstrap, topics.alerts):
        alert = orjson.loads(rec.value)
        out[alert["id"]] = alert
    return out


def send_paced(sender, lines: list[bytes], rate: float, slot_s: float = 0.02) -> list[tuple]:
    """Send ``lines`` through ``sender`` (a ``PingSender``) at ``rate`` pings/s, one record per
    partition every ``slot_s``; returns ``(send time, future)`` for every record sent."""
    futures = []
    per_slot = max(1, int(rate * slot_s))
    t0 = time.time()
    for i in range(0, len(lines), per_slot):
        wait = t0 + (i // per_slot) * slot_s - time.time()
        if wait > 0:
            time.sleep(wait)
        sender.send_lines(lines[i : i + per_slot])
        when = time.time()
        futures += [(when, f) for f in sender.send_open()]
    return futures
