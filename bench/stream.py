"""Stream benchmark against the real broker: worker throughput, ping-to-alert latency, correctness.

``python -m bench.stream [--workers 1 --rounds 2 --json --out FILE]``; every figure is stamped
(``bench.stamp``: commit, dirty flag, load average at the start and the end) and has its
baseline and its correctness check **in the same run** (issue 15):

- **baseline**: the embedded engine (``replay.offline.detect_file``, what ``landun detect``
  runs) over the same pings in a fresh process (``bench.stream_oracle``), no Kafka, Faust or
  checkpoints; the rounds alternate embedded, worker, embedded, worker ... so both see the same
  machine load;
- **throughput** (each worker round): the simulated night and the end-of-input record are
  published to a fresh namespace first (batch records), then ``--workers`` ``landun worker``
  processes (memory store, no Redis) start. The clock starts at the last poll of
  ``landun_pings_in_total`` that still read 0 (processing had not begun; a conservative start)
  and **stops at the changelog timestamp of the last checkpoint meta that covers its partition's
  end** (``bench.stream_kafka.DurableWatch``): outputs and state durable, not merely read. The
  time at which the read counter reached the total is reported beside it (``counter_s``), to
  show how much the old clock flattered;
- **correctness** (each worker round and the latency run): the final version of every alert on
  the alerts topic equals the embedded engine's alerts on the same input — same ids, same
  contents (``bench.stream_oracle.compare_alerts``);
- **latency** (one worker, ``--rate`` pings/s paced in real time for ``--seconds``, then the
  end-of-input record): for every alert the oracle expects, the time from sending the pings record
  that raised it (``landun-batch`` header of its first alerts-topic record) to that record's
  timestamp. An expected alert never seen is **missing and counted as +inf** in the percentiles;
  one raised only by the end-of-input record has no send time and is counted apart
  (``at_end``); ``late`` = delivered after ``--deadline-ms``.

Numbers depend on the machine and its load (stamped); nothing here asserts them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

from bench import stamp as stamping
from bench.stream_kafka import (
    DurableWatch,
    Workers,
    end_offsets,
    final_alerts,
    fresh_topics,
    send_paced,
)
from bench.stream_oracle import compare_alerts, embedded, read_alert_lines
from stream.kafka.producer import PingSender, make_producer, publish_reference
from stream.kafka.topics import drop_namespace, read_to_end

ROOT = Path(__file__).resolve().parents[1]


def sim_files(work: Path, vehicles: int, hours: float, seed: int) -> Path:
    """``landun sim`` output for the fleet, kept in ``work`` between runs under a digest of the
    simulator's code: a file written by an older simulator (without ``received``, say) is not
    reused (issue 15: such a cached file made every worker alert vanish, and nothing noticed)."""
    digest = hashlib.sha1()
    for path in sorted((ROOT / "sim").rglob("*.py")):
        digest.update(path.read_bytes())
    out = work / f"sim-{vehicles}-{hours}-{seed}-{digest.hexdigest()[:10]}"
    if not (out / "pings.jsonl").exists():
        cmd = [sys.executable, "-m", "landun.cli", "sim", "--vehicles", str(vehicles)]
        cmd += ["--hours", str(hours), "--seed", str(seed), "--out", str(out)]
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return out


def baseline_round(sim: Path, pings: Path, out: Path) -> dict:
    """One embedded-engine run; its rates by wall and by CPU time."""
    run = embedded(pings, sim / "fences.geojson", sim / "registry.json", out)
    run["pings_per_s"] = round(run["pings"] / run["wall_s"]) if run["wall_s"] else None
    run["pings_per_cpu_s"] = round(run["pings"] / run["cpu_s"]) if run["cpu_s"] else None
    return run


def worker_round(args, bootstrap: str, sim: Path, work: Path, oracle: dict) -> dict:
    """One throughput run of the workers over the whole night, checked against ``oracle``."""
    topics = fresh_topics(bootstrap, args.partitions)
    try:
        producer = make_producer(bootstrap, linger_ms=20)
        publish_reference(producer, topics, sim / "fences.geojson", sim / "registry.json")
        # As `landun ingest` sends a file (a record without receive times gets its pings'
        # median event time as one).
        sender = PingSender(
            producer, topics, args.partitions, batch_pings=args.batch, stamp_event_time=True
        )
        sender.send_lines(line for line in (sim / "pings.jsonl").read_bytes().splitlines())
        sender.final()  # the run ends as landun detect ends a file: comparable alerts
        producer.close()
        total = sender.sent
        watch = DurableWatch(bootstrap, topics, end_offsets(bootstrap, topics.pings))
        spawned = time.time()
        workers = Workers(
            bootstrap, topics, args.partitions, args.workers, work, args.worker_args.split()
        )
        try:
            clock = _clock(workers, watch, total, spawned, args.timeout)
        finally:
            workers.stop()
            watch.close()
        check = compare_alerts(oracle, final_alerts(bootstrap, topics)) if watch.done else None
    finally:
        drop_namespace(bootstrap, topics.namespace)
    start, durable = clock["start"], clock["durable"]
    row = {
        "workers": args.workers,
        "pings": total,
        "durable": watch.done,
        "durable_s": round(durable - start, 2) if durable else None,
        "counter_s": round(clock["counted"] - start, 2) if clock["counted"] else None,
        "start_from": clock["start_from"],
        "worker_cpu_s": round(clock["cpu_end"] - clock["cpu_start"], 2),
        "correct": check,
    }
    row["pings_per_s"] = round(total / row["durable_s"]) if row["durable_s"] else None
    row["counter_pings_per_s"] = round(total / row["counter_s"]) if row["counter_s"] else None
    row["pings_per_cpu_s"] = round(total / row["worker_cpu_s"]) if row["worker_cpu_s"] > 0 else None
    return row


def _clock(workers: Workers, watch: DurableWatch, total: int, spawned: float, timeout: float):
    """Poll the read counter and the changelog until every partition is durable."""
    start, start_from, cpu_start = spawned, "spawn", 0.0
    counted = first = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = time.time()
        n = workers.metric("landun_pings_in_total")
        if n is not None and n == 0 and first is None:
            start, start_from, cpu_start = now, "last_zero_read", workers.cpu_seconds()
        elif n is not None and n > 0 and first is None:
            first = now
        if counted is None and n is not None and n >= total:
            counted = now
        if watch.poll(50):
            break
        workers.check_alive()
    end_ms = watch.end_ms()
    return {
        "start": start,
        "start_from": start_from,
        "counted": counted,
        "durable": end_ms / 1000 if end_ms is not None else None,
        "cpu_start": cpu_start,
        "cpu_end": workers.cpu_seconds(),
    }


def throughput(args, bootstrap: str, sim: Path, work: Path) -> dict:
    """Embedded and worker rounds, alternating; every worker round checked for correctness."""
    pings = sim / "pings.jsonl"
    baselines, rounds, oracle = [], [], None
    for r in range(args.rounds):
        base = baseline_round(sim, pings, work / f"embedded-{r}.jsonl")
        alerts = read_alert_lines(work / f"embedded-{r}.jsonl")
        if oracle is None:
            oracle = alerts
        base["same_as_first"] = alerts == oracle
        baselines.append(base)
        _progress(args, f"embedded {r}: {base['pings_per_s']:,} pings/s")
        rounds.append(worker_round(args, bootstrap, sim, work, oracle))
        _progress(args, f"worker {r}: {rounds[-1]['pings_per_s']} pings/s (durable)")
    return {
        "baseline": baselines,
        "workers": rounds,
        "correct": all(r["correct"] and r["correct"]["equal"] for r in rounds)
        and all(b["same_as_first"] for b in baselines),
    }


def latency(args, bootstrap: str, sim: Path, work: Path) -> dict:
    """A paced run of one worker; latencies of the expected alerts, missing ones counted."""
    lines = (sim / "pings.jsonl").read_bytes().splitlines()[: int(args.rate * args.seconds)]
    subset = work / "latency-pings.jsonl"
    subset.write_bytes(b"\n".join(lines) + b"\n")
    base = baseline_round(sim, subset, work / "latency-embedded.jsonl")
    oracle = read_alert_lines(work / "latency-embedded.jsonl")
    topics = fresh_topics(bootstrap, args.partitions)
    try:
        producer = make_producer(bootstrap, linger_ms=0)
        publish_reference(producer, topics, sim / "fences.geojson", sim / "registry.json")
        workers = Workers(bootstrap, topics, args.partitions, 1, work, args.worker_args.split())
        try:
            workers.wait_ready(args.timeout)
            sent_at = _paced(producer, topics, args, lines)
            watch = DurableWatch(bootstrap, topics, end_offsets(bootstrap, topics.pings))
            deadline = time.monotonic() + args.timeout
            while not watch.poll(100) and time.monotonic() < deadline:
                pass
            watch.close()
            cpu = round(workers.cpu_seconds(), 2)  # start-up included
            inside = worker_side(workers)
        finally:
            workers.stop()
        first = _first_records(bootstrap, topics.alerts)
        check = compare_alerts(oracle, final_alerts(bootstrap, topics))
    finally:
        drop_namespace(bootstrap, topics.namespace)
    report = alert_latencies(oracle, first, sent_at, args.deadline_ms)
    return {
        "rate": args.rate,
        "seconds": args.seconds,
        "pings": len(lines),
        "durable": watch.done,
        "worker_cpu_s": cpu,
        **inside,
        "baseline_embedded": base,
        "correct": check,
        **report,
    }


def worker_side(workers: Workers) -> dict:
    """Where a ping's latency goes inside the worker: mean micro-batch time and mean age of a
    batch's oldest record when the batch starts (time queued before the engine), in ms."""
    out = {}
    names = (("landun_batch_seconds", "batch_ms"), ("landun_record_age_seconds", "age_ms"))
    for name, key in names:
        count = workers.metric(name + "_count")
        total = workers.metric(name + "_sum")
        out["worker_mean_" + key] = round(total / count * 1000, 1) if count and total else None
    out["worker_batches"] = workers.metric("landun_batch_seconds_count")
    return out


def _paced(producer, topics, args, lines: list[bytes]) -> dict[tuple[int, int], float]:
    """Send ``lines`` at ``args.rate``, one record per partition every 20 ms, then the final
    record; the send time of every pings record by (partition, offset)."""
    sender = PingSender(producer, topics, args.partitions, batch_pings=10**9, stamp_event_time=True)
    futures = send_paced(sender, lines, args.rate)
    sender.final()
    sent_at = {}
    for when, future in futures:
        meta = future.get(timeout=30)
        sent_at[(meta.partition, meta.offset)] = when
    return sent_at


def _first_records(bootstrap: str, topic: str) -> dict[str, tuple[int, str]]:
    """Alert id -> (timestamp ms, ``landun-batch`` header) of its first record on the topic."""
    import orjson

    first: dict[str, tuple[int, str]] = {}
    for rec in read_to_end(bootstrap, topic):
        alert_id = orjson.loads(rec.value)["id"]
        if alert_id not in first:
            batch = dict(rec.headers or ()).get("landun-batch", b"").decode()
            first[alert_id] = (rec.timestamp, batch)
    return first


def alert_latencies(
    expected: dict[str, dict],
    first: dict[str, tuple[int, str]],
    sent_at: dict[tuple[int, int], float],
    deadline_ms: float,
) -> dict:
    """Latency of every expected alert: delivered, late, missing (+inf), raised at the end.

    Parameters
    ----------
    expected : dict
        The oracle's alerts by id.
    first : dict
        Alert id -> (timestamp ms, ``landun-batch`` header) of its first record seen.
    sent_at : dict
        (partition, offset) of a pings record -> the epoch seconds it was sent.
    deadline_ms : float
        Delivered later than this counts as late (still delivered).

    Returns
    -------
    dict
        ``expected``, ``delivered``, ``late``, ``missing``, ``at_end`` (raised by the end of
        input, no send time), ``p50_ms``/``p99_ms`` over delivered + missing with missing as
        +inf (``None`` when there is nothing to rank), and ``missing_as`` = ``"+inf"``.
    """
    values, missing, at_end = [], 0, 0
    for alert_id in expected:
        seen = first.get(alert_id)
        if seen is None:
            missing += 1
            values.append(math.inf)
            continue
        ts, batch = seen
        part, _, span = batch.partition(":")
        sent = sent_at.get((int(part), int(span.split("-")[0]))) if span else None
        if sent is None:
            at_end += 1
            continue
        values.append(ts - sent * 1000)
    values.sort()
    finite = [v for v in values if v != math.inf]
    return {
        "expected": len(expected),
        "delivered": len(finite),
        "late": sum(1 for v in finite if v > deadline_ms),
        "missing": missing,
        "at_end": at_end,
        "deadline_ms": deadline_ms,
        "missing_as": "+inf",
        "p50_ms": _pct(values, 50),
        "p99_ms": _pct(values, 99),
    }


def _pct(values: list[float], q: int) -> float | str | None:
    if not values:
        return None
    v = values[min(len(values) - 1, int(len(values) * q / 100))]
    return "+inf" if v == math.inf else round(v, 1)  # JSON has no infinity


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=1, help="worker processes (throughput)")
    p.add_argument("--rounds", type=int, default=2, help="embedded/worker pairs, alternating")
    p.add_argument("--partitions", type=int, default=8)
    p.add_argument("--vehicles", type=int, default=300)
    p.add_argument("--hours", type=float, default=6.0)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--batch", type=int, default=500, help="pings per batch record")
    p.add_argument("--rate", type=float, default=5000.0, help="pings/s of the latency run")
    p.add_argument("--seconds", type=float, default=20.0, help="length of the latency run")
    p.add_argument("--deadline-ms", type=float, default=500.0, help="later than this is late")
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("--skip-latency", action="store_true")
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--worker-args", default="", help="extra `landun worker` arguments, quoted")
    p.add_argument("--work", type=Path, default=ROOT / "var" / "bench", help="scratch directory")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", type=Path, help="also write the JSON report there")
    args = p.parse_args(argv)
    stamp = stamping.start(["bench.stream", *(sys.argv[1:] if argv is None else argv)])
    port = os.environ.get("LANDUN_KAFKA_PORT", "9092")
    bootstrap = os.environ.get("LANDUN_KAFKA_BOOTSTRAP", f"127.0.0.1:{port}")
    args.work.mkdir(parents=True, exist_ok=True)
    sim = sim_files(args.work, args.vehicles, args.hours, args.seed)
    report: dict = {"stamp": stamp, "fleet": [args.vehicles, args.hours, args.seed]}
    if not args.skip_throughput:
        report["throughput"] = throughput(args, bootstrap, sim, args.work)
    if not args.skip_latency:
        report["latency"] = latency(args, bootstrap, sim, args.work)
    stamping.end(stamp)
    report["correct"] = all(
        part["correct"] if name == "throughput" else part["correct"]["equal"]
        for name, part in report.items()
        if name in ("throughput", "latency")
    )
    text = json.dumps(report, indent=1) if args.json else table(report)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1))
    return 0 if report["correct"] else 1


def table(report: dict) -> str:
    """The report as the text table docs/benchmarks.md takes, stamp first."""
    lines = [stamping.line(report["stamp"]), f"fleet (vehicles, hours, seed): {report['fleet']}"]
    t = report.get("throughput")
    if t:
        lines += ["", "round  kind      pings/s (wall)  pings/CPU-s  clock        correct"]
        for i, (b, w) in enumerate(zip(t["baseline"], t["workers"], strict=True)):
            lines.append(
                f"{i:>5}  embedded  {b['pings_per_s'] or '-':>14}  {b['pings_per_cpu_s']:>11}  "
                f"{b['wall_s']:>6} s      same as round 0: {b['same_as_first']}"
            )
            c = w["correct"] or {}
            lines.append(
                f"{i:>5}  worker×{w['workers']}  {w['pings_per_s'] or '-':>14}  "
                f"{w['pings_per_cpu_s'] or '-':>11}  durable {w['durable_s']} s (counter "
                f"{w['counter_s']} s = {w['counter_pings_per_s']}/s)  equal {c.get('equal')} "
                f"({c.get('got')}/{c.get('expected')} alerts, missing {c.get('missing')}, extra "
                f"{c.get('extra')}, different {c.get('different')})"
            )
    lat = report.get("latency")
    if lat:
        c = lat["correct"]
        lines += [
            "",
            f"latency at {lat['rate']:.0f} pings/s for {lat['seconds']} s ({lat['pings']} pings): "
            f"expected {lat['expected']} alerts, delivered {lat['delivered']}, late (> "
            f"{lat['deadline_ms']:.0f} ms) {lat['late']}, missing {lat['missing']} (as "
            f"{lat['missing_as']}), raised at end of input {lat['at_end']}; p50 {lat['p50_ms']} "
            f"ms, p99 {lat['p99_ms']} ms; final alerts equal the embedded engine's: {c['equal']}",
            f"worker: {lat['worker_cpu_s']} CPU-s, {lat['worker_batches']} batches, mean batch "
            f"{lat['worker_mean_batch_ms']} ms, mean age of a batch's oldest record "
            f"{lat['worker_mean_age_ms']} ms",
        ]
    lines.append(f"correct: {report['correct']}")
    return "\n".join(lines)


def _progress(args, message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
