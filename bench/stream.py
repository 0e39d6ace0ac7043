"""Stream benchmark against the real broker: worker throughput and ping-to-alert latency.

``python -m bench.stream --workers 1 --json`` prints
``{"pings_per_s", "workers", "p50_ms", "p99_ms", ...}``:

- **throughput**: a simulated night is published to a fresh namespace first (batch records),
  then ``--workers`` ``landun worker`` processes (memory store, no Redis) start; pings per second
  from the first processed record until every partition's checkpoint covers its end;
- **latency** (one worker, ``--rate`` pings/s paced in real time): for every alert, the time from
  the production of the oldest pings record of the batch that raised it (``landun-batch``
  header) to the alert record's timestamp on the alerts topic; p50/p99 in ms. Also reported for
  all events (trips, stops, fences), which are far more numerous.

Numbers depend on the machine and its load; nothing here asserts them.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from stream.kafka.producer import PingSender, make_producer, publish_reference
from stream.kafka.topics import Topics, ensure_topics

ROOT = Path(__file__).resolve().parents[1]


def sim_files(vehicles: int, hours: float, seed: int) -> Path:
    out = ROOT / "var" / "bench" / f"sim-{vehicles}-{hours}-{seed}"
    if not (out / "pings.jsonl").exists():
        cmd = [sys.executable, "-m", "landun.cli", "sim", "--vehicles", str(vehicles)]
        cmd += ["--hours", str(hours), "--seed", str(seed), "--out", str(out)]
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return out


class Workers:
    """``landun worker`` processes of one namespace."""

    def __init__(
        self, bootstrap: str, topics: Topics, partitions: int, n: int, log_dir: Path, extra=()
    ):
        self.procs, self.ports = [], []
        for _ in range(n):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            cmd = [sys.executable, "-m", "landun.cli", "worker", "--bootstrap", bootstrap,
                   "--namespace", topics.namespace, "--partitions", str(partitions),
                   "--store", "memory://", "--port", str(port), "--standby", "0",
                   *extra]  # fmt: skip
            log = (log_dir / f"worker-{port}.log").open("wb")
            self.procs.append(subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=log))
            self.ports.append(port)

    def metric(self, name: str) -> float:
        total = 0.0
        for port in self.ports:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    body = r.read().decode()
            except OSError:
                continue
            total += sum(
                float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
                if line.startswith(name + " ") or line.startswith(name + "{")
            )  # fmt: skip
        return total

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

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()


def throughput(args, bootstrap: str, sim: Path, log_dir: Path) -> dict:
    topics = Topics(f"bench{uuid.uuid4().hex[:8]}")
    ensure_topics(bootstrap, topics, args.partitions)
    producer = make_producer(bootstrap, linger_ms=20)
    publish_reference(producer, topics, sim / "fences.geojson", sim / "registry.json")
    sender = PingSender(producer, topics, args.partitions, batch_pings=args.batch)
    sender.send_lines((sim / "pings.jsonl").read_bytes().splitlines())
    sender.flush()
    total = sender.sent
    workers = Workers(
        bootstrap, topics, args.partitions, args.workers, log_dir, args.worker_args.split()
    )
    try:
        deadline = time.monotonic() + args.timeout
        first = None
        done = 0.0
        while time.monotonic() < deadline:
            done = workers.metric("landun_pings_in_total")
            now = time.monotonic()
            if first is None and done > 0:
                first = (now, done)
            if done >= total:
                break
            time.sleep(0.1)
        elapsed = now - first[0] if first else float("nan")
        rate = (done - first[1]) / elapsed if first and elapsed > 0 else 0.0
    finally:
        workers.stop()
        _drop(bootstrap, topics)
    return {"pings": total, "processed": done, "pings_per_s": round(rate)}


def latency(args, bootstrap: str, sim: Path, log_dir: Path) -> dict:
    topics = Topics(f"bench{uuid.uuid4().hex[:8]}")
    ensure_topics(bootstrap, topics, args.partitions)
    producer = make_producer(bootstrap, linger_ms=0)
    publish_reference(producer, topics, sim / "fences.geojson", sim / "registry.json")
    workers = Workers(bootstrap, topics, args.partitions, 1, log_dir, args.worker_args.split())
    sent_at: dict[tuple[int, int], float] = {}
    try:
        _wait_ready(workers.ports[0], args.timeout)
        lines = (sim / "pings.jsonl").read_bytes().splitlines()[: int(args.rate * args.seconds)]
        sender = PingSender(producer, topics, args.partitions, batch_pings=10**9)
        futures = []
        slot = 0.02  # one batch record per partition every 20 ms
        per_slot = max(1, int(args.rate * slot))
        t0 = time.time()
        for i in range(0, len(lines), per_slot):
            wait = t0 + (i // per_slot) * slot - time.time()
            if wait > 0:
                time.sleep(wait)
            sender.send_lines(lines[i : i + per_slot])
            when = time.time()
            futures += [(when, f) for f in sender.send_open()]
        producer.flush()
        for when, future in futures:
            meta = future.get(timeout=30)
            sent_at[(meta.partition, meta.offset)] = when
        total = workers.metric
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline and total("landun_pings_in_total") < len(lines):
            time.sleep(0.2)
        alerts = _latencies(bootstrap, topics.alerts, sent_at)
        events = _latencies(bootstrap, topics.events, sent_at)
        worker = _worker_side(workers)
    finally:
        workers.stop()
        _drop(bootstrap, topics)
    return {
        "rate": args.rate,
        "alerts": len(alerts),
        "p50_ms": _pct(alerts, 50),
        "p99_ms": _pct(alerts, 99),
        "events": len(events),
        "events_p50_ms": _pct(events, 50),
        "events_p99_ms": _pct(events, 99),
        **worker,
    }


def _worker_side(workers: Workers) -> dict:
    """Where a ping's latency goes inside the worker: mean micro-batch time, mean age of a
    batch's oldest record when the batch starts (time spent queued before the engine)."""
    out = {}
    for name, key in (
        ("landun_batch_seconds", "batch_ms"),
        ("landun_record_age_seconds", "age_ms"),
    ):
        count = workers.metric(name + "_count")
        out["worker_mean_" + key] = (
            round(workers.metric(name + "_sum") / count * 1000, 1) if count else None
        )
    out["worker_batches"] = workers.metric("landun_batch_seconds_count")
    out["worker_batch_s"] = round(workers.metric("landun_batch_seconds_sum"), 2)
    out["worker_cpu_s"] = round(workers.cpu_seconds(), 2)  # start-up included
    return out


def _latencies(bootstrap: str, topic: str, sent_at: dict) -> list[float]:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=2000
    )
    tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    out = []
    for rec in consumer:
        batch = dict(rec.headers or ()).get("landun-batch", b"").decode()
        if not batch:
            continue
        part, _, span = batch.partition(":")
        first = int(span.split("-")[0])
        sent = sent_at.get((int(part), first))
        if sent is not None:
            out.append(rec.timestamp - sent * 1000)
    consumer.close()
    return sorted(out)


def _pct(values: list[float], q: int) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, int(len(values) * q / 100))], 1)


def _wait_ready(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("worker not ready")


def _drop(bootstrap: str, topics: Topics) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        mine = [t for t in admin.list_topics() if t.startswith(topics.namespace)]
        if mine:
            admin.delete_topics(mine)
    finally:
        admin.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=1, help="worker processes (throughput)")
    p.add_argument("--partitions", type=int, default=8)
    p.add_argument("--vehicles", type=int, default=300)
    p.add_argument("--hours", type=float, default=6.0)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--batch", type=int, default=500, help="pings per batch record")
    p.add_argument("--rate", type=float, default=5000.0, help="pings/s of the latency run")
    p.add_argument("--seconds", type=float, default=20.0, help="length of the latency run")
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("--skip-latency", action="store_true")
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--worker-args", default="", help="extra `landun worker` arguments, quoted")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    port = os.environ.get("LANDUN_KAFKA_PORT", "9092")
    bootstrap = os.environ.get("LANDUN_KAFKA_BOOTSTRAP", f"127.0.0.1:{port}")
    sim = sim_files(args.vehicles, args.hours, args.seed)
    log_dir = ROOT / "var" / "bench" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    result: dict = {"workers": args.workers}
    if not args.skip_throughput:
        result.update(throughput(args, bootstrap, sim, log_dir))
    if not args.skip_latency:
        result.update(latency(args, bootstrap, sim, log_dir))
    else:
        result.update({"p50_ms": None, "p99_ms": None})
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>16}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
