"""Part *edits* of ``bench.production``: a reference edit through the API until every worker
applied it, against records produced straight to the fences topic (see bench/production.py)."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from functools import partial

import httpx
import orjson

from bench.deployment import (
    Api,
    Deployment,
    LoadSampler,
    Process,
    bearer,
    metric_sum,
    wait_until,
)
from bench.production import sim_files, summary
from stream.kafka.producer import make_producer


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
