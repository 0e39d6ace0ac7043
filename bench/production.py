"""Production-path benchmark (issue 10): the real `landun api`, `landun alert-sink` and `landun
worker` processes over Kafka, Redis and PostgreSQL (``bench.deployment``), each measurement with
a baseline taken in the same run.

``python -m bench.production [--json] [--only edits|alerts|cases]``

- **edits**: two workers (memory store) and the API on a fresh namespace and database, the
  reference data of a simulated fleet loaded through PostgreSQL and the outbox. Fence edits are
  made with ``PUT /api/fences/{id}`` (admin) at a modest pace; for each one, the time from the
  API's 200 to its application in each worker, observed by polling every worker's
  ``landun_reference_records_total{topic=<ns>.fences}`` (~10 ms) and matching increments to
  edits in order (records of the one-partition topic are applied in order; the counter and the
  new engine context change in the same event-loop step). *Baseline*: as many records published
  straight to the fences topic by a Kafka producer (acks=all, as the relay's), timed from the
  acknowledgement, on the same workers, in alternating blocks.
- **alerts**: one worker (live view in Redis), the alert sink and the API. The fleet is the
  simulator's night (``--base-vehicles`` × 1 h from 21:00) replicated ``--copies`` times under
  new vehicle ids (the registry too) so that ``--rate`` pings/s is the fleet's real arrival rate
  (the simulator itself cannot place more than ~3,500 vehicles). The first ``--preroll-min``
  simulated minutes are published as a backlog and drained (vehicle states, trips under way),
  then ``--seconds`` of pings are paced at ``--rate`` as ``bench/stream.py`` does, recording each
  pings record's send time. A websocket client on ``/ws/alerts`` stamps every alert frame.
  For each alert version first raised by a paced record (key: alert id and whether it has
  ended; the ``landun-batch`` header of the alerts-topic record names the pings record),
  latency = websocket arrival − that record's send time. *Baseline*: the same alerts' records
  on the alerts topic (record timestamp − send time), i.e. what ``bench/stream.py`` measures;
  the difference is the sink + PostgreSQL + Redis + API hop. Alerts raised on the topic and
  never seen on the websocket are counted as missing.
- **cases**: 100,000 alerts with their open cases seeded into a fresh database (the first ones
  through ``PgAlertStore.put``, the rest with COPY of the same rows, checked against the
  store's reads), then the API; ≥ 1,000 case transitions (dispatched and closed by a city
  user, handled by enforcement) over one HTTP keep-alive connection. *Baselines* on the same
  connection, interleaved: ``GET /livez`` and ``GET /api/alerts/{id}``.

Numbers depend on the machine and its load (sampled during each part); nothing asserts them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import random
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
import orjson
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bench.deployment import (
    ROOT,
    Api,
    Deployment,
    LoadSampler,
    Process,
    bearer,
    metric_sum,
    pg_connect,
    wait_until,
)
from stream.eventtime import parse_ts
from stream.kafka.producer import PingSender, make_producer

SIM_START = "2025-06-02T21:00:00+08:00"


# --- shared -----------------------------------------------------------------------------------


def sim_files(vehicles: int, hours: float, seed: int) -> Path:
    """A simulated night from 21:00 (cached under var/bench)."""
    out = ROOT / "var" / "bench" / f"sim-{vehicles}-{hours}-{seed}-2100"
    if not (out / "pings.jsonl").exists():
        cmd = [sys.executable, "-m", "landun.cli", "sim", "--vehicles", str(vehicles)]
        cmd += ["--hours", str(hours), "--seed", str(seed), "--start", SIM_START, "--out", str(out)]
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return out


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (the value below which q % of the values lie)."""
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, max(0, math.ceil(len(s) * q / 100) - 1))], 1)


def summary(values_ms: list[float]) -> dict:
    return {
        "n": len(values_ms),
        "p50_ms": pct(values_ms, 50),
        "p99_ms": pct(values_ms, 99),
        "max_ms": round(max(values_ms), 1) if values_ms else None,
    }


def commit() -> dict:
    """HEAD, and the product files changed in the working tree that the processes ran (other
    engineers edit the same tree)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout

    changed = git("status", "--porcelain", "--untracked-files=no", "--", "api", "stream",
                  "landun", "geofence", "bench").split("\n")  # fmt: skip
    return {"head": git("rev-parse", "--short", "HEAD").strip(),
            "changed": [line[3:] for line in changed if line.strip()]}  # fmt: skip


# --- 1. reference edits -> applied in every worker -------------------------------------------


class CounterPoller:
    """Polls one worker's fence-record counter every ``every`` s on a keep-alive connection;
    ``seen[n]`` is the monotonic time at which the counter was first seen ≥ n."""

    def __init__(self, worker: Process, topic: str, every: float = 0.01):
        self.worker, self.label, self.every = worker, f'topic="{topic}"', every
        self.seen: dict[int, float] = {}
        self.value = 0
        self.polls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(base_url=self.worker.url, timeout=5) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    body = client.get("/metrics").text
                except httpx.HTTPError:
                    continue
                now = time.monotonic()
                self.polls += 1
                value = int(metric_sum(body, "landun_reference_records_total", self.label))
                for n in range(self.value + 1, value + 1):
                    self.seen[n] = now
                self.value = max(self.value, value)
                self._stop.wait(max(0.0, self.every - (now - started)))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _reached(pollers: list[CounterPoller], target: int) -> bool:
    return all(p.value >= target for p in pollers)


def edited(feature: dict, tag: str) -> dict:
    props = dict(feature["properties"])
    props["name"] = f"{props.get('name') or feature['id']} ({tag})"
    return {**feature, "properties": props}


def bench_edits(args) -> dict:
    sim = sim_files(args.base_vehicles, 1.0, args.seed)
    features = orjson.loads((sim / "fences.geojson").read_bytes())["features"]
    sites = [f for f in features if f["properties"]["kind"] == "site"]
    with Deployment(args.partitions) as d, LoadSampler() as load:
        d.user("root", "admin")
        api = d.api()
        d.ready(api)
        fences, registry = str(sim / "fences.geojson"), str(sim / "registry.json")
        d.landun("ingest", "--fences", fences, "--registry", registry,
                 "--partitions", str(args.partitions))  # fmt: skip
        workers = [d.worker(), d.worker()]
        d.ready(*workers)
        # Both ready at once and staying so: the second one's join (a rebalance) is over.
        wait_until(lambda: all(w.ready() for w in workers), 120, "both workers ready", 1.0)
        time.sleep(3)
        d.ready(*workers)
        client = Api(api)
        token = client.login("root")
        producer = make_producer(d.bootstrap)
        pollers = [CounterPoller(w, d.topics.fences, args.poll) for w in workers]
        latencies = {"api": [], "kafka": []}
        put_ms: list[float] = []
        missing = {"api": 0, "kafka": 0}
        cpu0 = [w.cpu_seconds() for w in workers]
        n_edit = 0
        try:
            wait_until(lambda: all(p.value > 0 for p in pollers), 30, "the first counter reads")
            blocks = [("api", "kafka")[i % 2] for i in range(2 * args.blocks)]
            per_block = math.ceil(args.edits / args.blocks)
            for path in blocks:
                base = [p.value for p in pollers]
                if len(set(base)) != 1:
                    raise RuntimeError(f"workers disagree on the fence records applied: {base}")
                done_at: list[float] = []
                for _ in range(per_block):
                    due = time.monotonic() + args.edit_interval
                    feature = edited(sites[n_edit % len(sites)], f"{path} {n_edit}")
                    n_edit += 1
                    fid = feature["id"]
                    if path == "api":
                        sent = time.monotonic()
                        r = client.client.put(f"/api/fences/{fid}", json=feature,
                                              headers=bearer(token))  # fmt: skip
                        done = time.monotonic()
                        if r.status_code != 200:
                            raise RuntimeError(f"PUT {fid}: {r.status_code} {r.text[:300]}")
                        put_ms.append((done - sent) * 1000)
                    else:
                        future = producer.send(d.topics.fences, key=fid.encode(),
                                               value=orjson.dumps(feature))  # fmt: skip
                        producer.flush()
                        future.get(timeout=30)
                        done = time.monotonic()
                    done_at.append(done)
                    time.sleep(max(0.0, due - time.monotonic()))
                target = base[0] + len(done_at)
                with contextlib.suppress(TimeoutError):
                    wait_until(partial(_reached, pollers, target), 60,
                               "every worker to apply the block", 0.05)  # fmt: skip
                for p, b in zip(pollers, base, strict=True):
                    for k, done in enumerate(done_at):
                        seen = p.seen.get(b + k + 1)
                        if seen is None:
                            missing[path] += 1
                        else:
                            latencies[path].append((seen - done) * 1000)
                if any(p.value > target for p in pollers):
                    raise RuntimeError("more fence records applied than sent: the match is off")
        finally:
            for p in pollers:
                p.stop()
            producer.close()
            client.close()
        polls = [p.polls for p in pollers]
        cpu = [round(w.cpu_seconds() - c, 1) for w, c in zip(workers, cpu0, strict=True)]
    return {
        "fences": len(features),
        "registry_entries": sum(
            len(v) for v in orjson.loads((sim / "registry.json").read_bytes()).values()
        ),
        "workers": 2,
        "edits_per_path": per_block * args.blocks,
        "edit_interval_s": args.edit_interval,
        "api": {**summary(latencies["api"]), "missing": missing["api"],
                "min_ms": round(min(latencies["api"]), 1) if latencies["api"] else None},
        "baseline_kafka": {**summary(latencies["kafka"]), "missing": missing["kafka"],
                           "min_ms": round(min(latencies["kafka"]), 1)
                           if latencies["kafka"] else None},
        "api_put": summary(put_ms),
        "poll_every_ms": args.poll * 1000,
        "polls": polls,
        "worker_cpu_s": cpu,
        "load": load.summary(),
    }  # fmt: skip


# --- 2. ping -> alert on /ws/alerts ------------------------------------------------------------


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
        futures = []
        slot = 0.02  # one record per partition every 20 ms, as bench/stream.py
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

TYPES = ("overspeed", "restricted_zone", "route_deviation", "signal_lost", "suspected_dumping",
         "unapproved_terminal", "uncovered_load", "unmatched_disposal",
         "unpermitted_load")  # fmt: skip
DISTRICTS = ("梁溪", "滨湖", "新吴", "锡山", "惠山", "经开")
SEVERITIES = ("low", "medium", "high", "critical")


def fake_alert(rng: random.Random, i: int) -> dict:
    """An engine-shaped alert (docs/formats.md), times ISO +08:00 as the sink stores them."""
    from stream.eventtime import to_iso

    ts = 1_748_869_200_000 - rng.randrange(0, 90 * 86_400_000)
    lat, lng = 31.49 + rng.uniform(-0.2, 0.2), 120.31 + rng.uniform(-0.2, 0.2)
    pings = [
        {"seq": 1000 + j, "ts": to_iso(ts + 20_000 * j), "lat": round(lat, 6),
         "lng": round(lng + 0.0002 * j, 6)}
        for j in range(3)
    ]  # fmt: skip
    return {
        "id": f"b{i:07d}{rng.getrandbits(48):012x}",
        "type": rng.choice(TYPES),
        "vehicle": f"V{rng.randrange(1, 20_000):05d}",
        "district": rng.choice(DISTRICTS),
        "severity": rng.choice(SEVERITIES),
        "ts": to_iso(ts),
        "ended_ts": to_iso(ts + rng.randrange(60_000, 3_600_000)) if rng.random() < 0.7 else None,
        "lat": round(lat, 6),
        "lng": round(lng, 6),
        "fence": f"site-{rng.randrange(1, 600):03d}",
        "permit": f"permit-{rng.randrange(1, 600):03d}",
        "trip": None,
        "late": False,
        "evidence": {"rule": "benchmark seed", "thresholds": {"limit_kmh": 60}, "pings": pings},
    }


def seed_cases(d: Deployment, n: int, through_store: int = 200) -> tuple[dict, list[str]]:
    """``n`` alerts, each with its open case, audit row and feed event: the first
    ``through_store`` through ``PgAlertStore.put``, the rest by COPY of the rows it writes."""
    from api.cases import new_case
    from api.db import connect
    from api.db.alerts import PgAlertStore, alert_columns
    from stream.eventtime import parse_ts, to_iso

    rng = random.Random(10)
    bodies = [fake_alert(rng, i) for i in range(n)]
    engine = connect(d.database_url)
    store = PgAlertStore(engine)
    t = time.monotonic()
    for body in bodies[:through_store]:
        store.put(body)
    engine.dispose()
    filed_ms = int(time.time() * 1000)
    with pg_connect(d.database, autocommit=False) as conn, conn.cursor() as cur:
        seq = cur.execute("SELECT seq FROM feed_head").fetchone()[0]
        rows = [(alert_columns(b), b) for b in bodies[through_store:]]
        case = new_case(to_iso(filed_ms))
        at = datetime.fromtimestamp(parse_ts(case["history"][0]["at"]) / 1000, UTC)
        with cur.copy("COPY alerts (id, type, vehicle, district, severity, ts_ms, ended_ts_ms, "
                      "version, body) FROM STDIN") as copy:  # fmt: skip
            for c, b in rows:
                copy.write_row((c["id"], c["type"], c["vehicle"], c["district"], c["severity"],
                                c["ts_ms"], c["ended_ts_ms"], c["version"],
                                orjson.dumps(b).decode()))  # fmt: skip
        with cur.copy("COPY alert_versions (alert_id, version, body) FROM STDIN") as copy:
            for c, b in rows:
                copy.write_row((c["id"], c["version"], orjson.dumps(b).decode()))
        with cur.copy("COPY cases (alert_id, state) FROM STDIN") as copy:
            for c, _ in rows:
                copy.write_row((c["id"], "open"))
        with cur.copy("COPY case_audit (alert_id, state, actor, at, note) FROM STDIN") as copy:
            for c, _ in rows:
                copy.write_row((c["id"], "open", "system", at, ""))
        with cur.copy("COPY feed_events (seq, kind, alert_id, body) FROM STDIN") as copy:
            for k, (c, b) in enumerate(rows, start=seq + 1):
                copy.write_row((k, "alert", c["id"], orjson.dumps({**b, "case": case}).decode()))
        cur.execute("UPDATE feed_head SET seq = %s WHERE id = 1", (seq + len(rows),))
        conn.commit()
    with pg_connect(d.database) as conn:
        conn.execute("ANALYZE")
        counts = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608
            for t in ("alerts", "alert_versions", "cases", "case_audit", "feed_events")
        }
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    seeded_s = time.monotonic() - t
    # The COPY rows read back through the store exactly like rows the store wrote itself.
    engine = connect(d.database_url)
    store = PgAlertStore(engine)
    try:
        for body in (bodies[0], bodies[through_store], bodies[-1]):
            got = store.get(body["id"])
            history = got.pop("case")["history"]
            assert got == body, f"seeded alert {body['id']} reads back differently"
            assert [(h["state"], h["by"]) for h in history] == [("open", "system")], history
    finally:
        engine.dispose()
    assert all(v == n for v in counts.values()), counts
    return {"seeded": n, "seed_s": round(seeded_s, 1), "database_mb": round(size / 2**20)}, [
        b["id"] for b in bodies
    ]


def bench_cases(args) -> dict:
    with Deployment(args.partitions) as d, LoadSampler() as load:
        seeded, ids = seed_cases(d, args.cases)
        d.user("city1", "city")
        d.user("officer1", "enforcement")
        api = d.api()
        d.ready(api)
        client = Api(api)
        tokens = {"city": client.login("city1"), "enforcement": client.login("officer1")}
        http = client.client
        steps = (("dispatched", "city"), ("handled", "enforcement"), ("closed", "city"))
        chosen = random.Random(11).sample(ids, math.ceil(args.transitions / len(steps)))
        times: dict[str, list[float]] = {"transition": [], "livez": [], "get_alert": []}
        for _ in range(20):  # warm the connection, the pool and the caches
            http.get("/livez")
            http.get(f"/api/alerts/{ids[-1]}", headers=bearer(tokens["city"]))
        cpu0 = api.cpu_seconds()
        started = time.monotonic()
        for alert_id in chosen:
            for state, role in steps:
                auth = bearer(tokens[role])
                t = time.perf_counter()
                r = http.get("/livez")
                times["livez"].append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200
                t = time.perf_counter()
                r = http.get(f"/api/alerts/{alert_id}", headers=auth)
                times["get_alert"].append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, r.text
                t = time.perf_counter()
                r = http.post(f"/api/alerts/{alert_id}/case", json={"state": state}, headers=auth)
                times["transition"].append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, r.text
                assert r.json()["case"]["state"] == state
        elapsed = time.monotonic() - started
        cpu = api.cpu_seconds() - cpu0
        final = http.get(f"/api/alerts/{chosen[0]}", headers=bearer(tokens["city"])).json()
        assert [h["state"] for h in final["case"]["history"]] == [
            "open", "dispatched", "handled", "closed"
        ]  # fmt: skip
        client.close()
    return {
        **seeded,
        "cases_moved": len(chosen),
        "transition": summary(times["transition"]),
        "baseline_livez": summary(times["livez"]),
        "baseline_get_alert": summary(times["get_alert"]),
        "requests_per_s": round(3 * len(times["transition"]) / elapsed),
        "api_cpu_s": round(cpu, 1),
        "load": load.summary(),
    }


# --- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", choices=("edits", "alerts", "cases"), help="run one part")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--partitions", type=int, default=8)
    p.add_argument("--base-vehicles", type=int, default=3000, help="simulated fleet (≤ ~3,500)")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--edits", type=int, default=200, help="fence edits per path (≥ 100)")
    p.add_argument("--blocks", type=int, default=2, help="alternating blocks per path")
    p.add_argument("--edit-interval", type=float, default=0.2, help="seconds between edits")
    p.add_argument("--poll", type=float, default=0.01, help="worker metrics poll period, s")
    p.add_argument("--rate", type=float, default=5000.0, help="pings/s of the alerts run")
    p.add_argument("--seconds", type=float, default=120.0, help="length of the paced feed")
    p.add_argument("--copies", type=int, help="fleet copies (default: rate / the fleet's rate)")
    p.add_argument("--preroll-min", type=float, default=12.0, help="simulated minutes first")
    p.add_argument("--no-live", action="store_true", help="diagnosis: worker without Redis")
    p.add_argument("--grace", type=float, default=5.0, help="s to wait for late ws frames")
    p.add_argument("--cases", type=int, default=100_000, help="alerts with cases seeded")
    p.add_argument("--transitions", type=int, default=1200, help="case transitions timed")
    args = p.parse_args(argv)
    c = commit()
    result: dict = {
        "commit": c["head"],
        "uncommitted": c["changed"],
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} CPU, {platform.python_implementation()} "
        f"{platform.python_version()}",
    }
    parts = {"edits": bench_edits, "alerts": bench_alerts, "cases": bench_cases}
    for name, run in parts.items():
        if args.only in (None, name):
            result[name] = run(args)
            if not args.json:
                print(name, json.dumps(result[name], ensure_ascii=False), flush=True)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
