"""Part *alerts* of ``bench.production``: ping → alert on ``/ws/alerts`` at a paced rate, against
the alerts topic (see bench/production.py)."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from pathlib import Path

import orjson
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bench.deployment import (
    Api,
    Deployment,
    LoadSampler,
    wait_until,
)
from bench.production import SIM_START, sim_files, summary
from bench.stream_kafka import send_paced
from stream.eventtime import parse_ts
from stream.kafka.producer import PingSender, make_producer


class Fleet:
    """The base simulation replicated ``copies`` times: copy k > 0 of vehicle V is ``V-kNN``
    (its registry entry, its contracts, and a place in every permit that names V)."""

    def __init__(self, sim: Path, copies: int, hours: float = 1.0):
        self.sim, self.copies = sim, copies
        self.start_ms = parse_ts(SIM_START)
        self.end_ms = self.start_ms + int(hours * 3_600_000)
        self.lines = (sim / "pings.jsonl").read_bytes().splitlines()

    @staticmethod
    def name(vehicle: str, k: int) -> str:
        return vehicle if k == 0 else f"{vehicle}-k{k:02d}"

    def registry(self) -> dict:
        reg = orjson.loads((self.sim / "registry.json").read_bytes())
        ks = range(self.copies)
        out = {
            "vehicles": [{**v, "id": self.name(v["id"], k)} for v in reg["vehicles"] for k in ks],
            "permits": [
                {**p, "vehicles": [self.name(v, k) for v in p["vehicles"] for k in ks]}
                for p in reg.get("permits", [])
            ],
            "contracts": [
                {**c, "id": self.name(c["id"], k), "vehicle": self.name(c["vehicle"], k)}
                for c in reg.get("contracts", [])
                for k in ks
            ],
        }
        return {**{key: v for key, v in reg.items() if key not in out}, **out}

    def replicate(self, start: int, stop: int):
        """The copies of base lines [start, stop), each line's copies one after the other.

        A line that is not a ping object, or whose time lies outside the simulated night (a
        terminal's clock fault: days ahead, or weeks back), is sent once: replicated, a clock
        days ahead would be "agreed" by several vehicles and move the worker's watermark.
        """
        lo, hi = self.start_ms - 6 * 3_600_000, self.end_ms + 300_000
        for line in self.lines[start:stop]:
            try:
                ping = orjson.loads(line)
                vehicle, ts = ping.get("vehicle"), parse_ts(ping.get("ts"))
            except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
                vehicle, ts = None, None
            token = b'"vehicle":' + orjson.dumps(vehicle) if isinstance(vehicle, str) else b""
            if not token or line.count(token) != 1 or not lo <= ts <= hi:
                yield line  # sent once; the worker judges it
                continue
            yield line
            for k in range(1, self.copies):
                yield line.replace(token, b'"vehicle":' + orjson.dumps(self.name(vehicle, k)))


class AlertSocket:
    """A /ws/alerts client in a thread; ``first[(id, ended)]`` = epoch s of the first frame
    carrying that alert version."""

    def __init__(self, url: str):
        self.first: dict[tuple[str, bool], float] = {}
        self.frames = 0
        self.resyncs = 0
        self.closed: str | None = None
        self._stop = threading.Event()
        self._stack = contextlib.ExitStack()
        self._ws = self._stack.enter_context(connect(url, max_size=None, open_timeout=30))
        self.snapshot = orjson.loads(self._ws.recv(timeout=30))  # the first frame
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                text = self._ws.recv(timeout=0.5)
            except TimeoutError:
                continue
            except ConnectionClosed as exc:
                self.closed = repr(exc)
                return
            now = time.time()
            self.frames += 1
            for alert in self._alerts(orjson.loads(text)):
                self.first.setdefault((alert["id"], bool(alert.get("ended_ts"))), now)

    def _alerts(self, frame: dict) -> list[dict]:
        kind = frame.get("type")
        if kind in ("snapshot", "resync"):
            self.resyncs += kind == "resync"
            return frame["alerts"]
        if kind == "batch":
            return [a for event in frame["events"] for a in self._alerts(event)]
        if kind in ("alert", "case"):
            return [frame["alert"]]
        return []

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._stack.close()


def group_lag(bootstrap: str, group: str, topics: list[str]) -> int:
    """Records of ``topics`` not yet committed by ``group``."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="landun-bench")
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        committed = admin.list_group_offsets(group).get(group, {})
        tps = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t)]
        ends = consumer.end_offsets(tps)
        return sum(
            end - (committed[tp].offset if tp in committed else 0) for tp, end in ends.items()
        )
    finally:
        consumer.close()
        admin.close()


def end_total(bootstrap: str, topic: str) -> int:
    """Sum of the end offsets of ``topic``'s partitions."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(tps).values()) if tps else 0
    finally:
        consumer.close()


def first_versions(bootstrap: str, topic: str) -> dict[tuple[str, bool], tuple[int, str]]:
    """The first record of every alert version key on ``topic``: (timestamp ms, batch)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=3000
    )
    tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    out: dict[tuple[str, bool], tuple[int, str]] = {}
    for rec in consumer:
        alert = orjson.loads(rec.value)
        batch = dict(rec.headers or ()).get("landun-batch", b"").decode()
        out.setdefault((alert["id"], bool(alert.get("ended_ts"))), (rec.timestamp, batch))
    consumer.close()
    return out


def bench_alerts(args) -> dict:
    sim = sim_files(args.base_vehicles, 1.0, args.seed)
    fleet_rate = sum(1 for _ in (sim / "pings.jsonl").open("rb")) / 3600.0
    copies = args.copies or max(1, round(args.rate / fleet_rate))
    fleet = Fleet(sim, copies)
    per_min = len(fleet.lines) / 60.0
    preroll_end = int(args.preroll_min * per_min)
    paced_base = math.ceil(args.rate * args.seconds / copies)
    with Deployment(args.partitions) as d, LoadSampler() as load:
        registry = d.log_dir / "registry.json"
        registry.write_bytes(orjson.dumps(fleet.registry()))
        d.user("root", "admin")
        api, sink = d.api(), d.sink()
        d.ready(api, sink)
        t = time.monotonic()
        d.landun("ingest", "--fences", str(sim / "fences.geojson"), "--registry", str(registry),
                 "--partitions", str(args.partitions), timeout=1800)  # fmt: skip
        ingest_s = time.monotonic() - t
        registry.unlink()  # tens of MB; the logs stay in the log directory
        worker = d.worker(live=not args.no_live)
        t = time.monotonic()
        d.ready(worker, timeout=1800)
        ready_s = time.monotonic() - t
        producer = make_producer(d.bootstrap, linger_ms=20)
        sender = PingSender(producer, d.topics, args.partitions, batch_pings=500)
        t = time.monotonic()
        sender.send_lines(fleet.replicate(0, preroll_end))
        sender.flush()
        preroll = sender.sent
        pings_in = lambda: worker.metric("landun_pings_in_total")  # noqa: E731
        wait_until(lambda: pings_in() >= preroll, 1800, "the pre-roll to be processed", 1.0)
        preroll_s = time.monotonic() - t
        group = f"{d.topics.namespace}-alert-sink"
        out_topics = [d.topics.alerts, d.topics.events]
        wait_until(lambda: group_lag(d.bootstrap, group, out_topics) == 0, 1800,
                   "the sink to drain the pre-roll", 2.0)  # fmt: skip
        drain_s = time.monotonic() - t - preroll_s
        producer.close()

        client = Api(api)
        ws = AlertSocket(client.ws_url(client.login("root"), "/ws/alerts"))
        producer = make_producer(d.bootstrap, linger_ms=0)
        sender = PingSender(producer, d.topics, args.partitions, batch_pings=10**9)
        lines = list(fleet.replicate(preroll_end, preroll_end + paced_base))
        lines = lines[: int(args.rate * args.seconds)]
        cpu0 = {p.name: p.cpu_seconds() for p in (worker, sink, api)}
        changelog = d.topics.changelog("state")
        outputs0 = {t: end_total(d.bootstrap, t) for t in (changelog, d.topics.events)}
        t0 = time.time()
        futures = send_paced(sender, lines, args.rate)  # as bench/stream.py
        producer.flush()
        feed_s = time.time() - t0
        sent_at = {}
        for when, future in futures:
            meta = future.get(timeout=60)
            sent_at[(meta.partition, meta.offset)] = when
        producer.close()
        total = preroll + len(lines)
        wait_until(lambda: pings_in() >= total, 600, "the paced pings to be processed", 0.5)
        wait_until(lambda: group_lag(d.bootstrap, group, out_topics) == 0, 600,
                   "the sink to drain", 1.0)  # fmt: skip
        cpu = {p.name: round(p.cpu_seconds() - cpu0[p.name], 1) for p in (worker, sink, api)}
        outputs = {t: end_total(d.bootstrap, t) - n for t, n in outputs0.items()}
        worker_side = {
            name: worker.metric(f"landun_{name}_sum")
            / max(1.0, worker.metric(f"landun_{name}_count"))
            for name in ("batch_seconds", "record_age_seconds")
        }
        time.sleep(args.grace)
        ws.close()
        client.close()
        versions = first_versions(d.bootstrap, d.topics.alerts)
    ws_ms, topic_ms, hop_ms = [], [], []
    missing = []
    for key, (ts_ms, batch) in versions.items():
        if not batch:
            continue
        part, _, span = batch.partition(":")
        sent = sent_at.get((int(part), int(span.split("-")[0])))
        if sent is None:
            continue  # raised during the pre-roll
        topic_ms.append(ts_ms - sent * 1000)
        seen = ws.first.get(key)
        if seen is None:
            missing.append(key[0])
            continue
        ws_ms.append((seen - sent) * 1000)
        hop_ms.append(seen * 1000 - ts_ms)
    return {
        "base_vehicles": args.base_vehicles,
        "copies": copies,
        "vehicles": args.base_vehicles * copies,
        "fleet_real_rate": round(fleet_rate * copies),
        "rate": args.rate,
        "live_view": not args.no_live,
        "preroll_pings": preroll,
        "paced_pings": len(lines),
        "paced_s": round(feed_s, 1),
        "ws": {**summary(ws_ms), "missing": len(missing), "missing_ids": missing[:10]},
        "baseline_topic": summary(topic_ms),
        "hop_topic_to_ws": summary(hop_ms),
        "ws_frames": ws.frames,
        "ws_resyncs": ws.resyncs,
        "ws_closed": ws.closed,
        "cpu_s_during_paced": cpu,
        "changelog_records_paced": outputs[changelog],
        "event_records_paced": outputs[d.topics.events],
        "worker_mean_batch_ms": round(worker_side["batch_seconds"] * 1000, 1),
        "worker_mean_record_age_ms": round(worker_side["record_age_seconds"] * 1000, 1),
        "preroll_pings_per_s": round(preroll / preroll_s) if preroll_s else None,
        "setup_s": {"ingest": round(ingest_s), "worker_ready": round(ready_s),
                    "preroll": round(preroll_s), "sink_drain": round(drain_s)},
        "load": load.summary(),
    }  # fmt: skip


# --- 3. case transitions over REST -------------------------------------------------------------
