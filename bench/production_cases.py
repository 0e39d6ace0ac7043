"""Part *cases* of ``bench.production``: case transitions over REST with 100,000 cases seeded,
against ``/livez`` and one-case reads (see bench/production.py)."""

from __future__ import annotations

import math
import random
import time
from datetime import UTC, datetime

import orjson

from bench.deployment import (
    Api,
    Deployment,
    LoadSampler,
    bearer,
    pg_connect,
)
from bench.production import summary
from stream.eventtime import parse_ts

TYPES = ("overspeed", "restricted_zone", "route_deviation", "signal_lost", "suspected_dumping",
         "unapproved_terminal", "uncovered_load", "unmatched_disposal",
         "unpermitted_load")  # fmt: skip
DISTRICTS = ("梁溪", "滨湖", "新吴", "锡山", "惠山", "经开")
SEVERITIES = ("low", "medium", "high", "critical")


def form(state: str) -> dict:
    """The case form of ``state`` as the console sends it (issue 13: dispatching names a team
    and a deadline, handling and closing say what was done)."""
    if state == "dispatched":
        return {"state": state, "assignee": "三中队", "deadline": int((time.time() + 7200) * 1000)}
    return {"state": state, "note": f"{state} (bench)"}


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
    from stream.eventtime import to_iso

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
                r = http.post(f"/api/alerts/{alert_id}/case", json=form(state), headers=auth)
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
