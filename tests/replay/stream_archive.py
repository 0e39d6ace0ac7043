"""Helpers of the archive consumer's Kafka tests: feed the pings topic, run `landun archive`, read
the archive back and what the topics hold, independently of the consumer's code (issue 12)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from landun.cli import main as landun
from stream.kafka.outputs import headers_dict
from stream.kafka.runner import CONTROL_HEADER
from stream.kafka.topics import Topics
from stream.wire_json import loads_json
from tests.stream.kafka.conftest import PARTITIONS, ROOT, read_topic


def ingest(bootstrap: str, topics: Topics, sim: Path, *extra: str) -> None:
    """`landun ingest` of a simulation's files (reference data first), batch records."""
    args = ["ingest", str(sim / "pings.jsonl"), "--bootstrap", bootstrap, "--batch", "200"]
    args += ["--namespace", topics.namespace, "--partitions", str(PARTITIONS)]
    args += ["--fences", str(sim / "fences.geojson"), "--registry", str(sim / "registry.json")]
    assert landun([*args, *extra]) == 0


def ingest_process(bootstrap: str, topics: Topics, sim: Path, *extra: str):
    """`landun ingest` of a simulation's files in a subprocess (a feed running meanwhile)."""
    args = ["ingest", str(sim / "pings.jsonl"), "--bootstrap", bootstrap]
    args += ["--namespace", topics.namespace, "--partitions", str(PARTITIONS)]
    args += ["--fences", str(sim / "fences.geojson"), "--registry", str(sim / "registry.json")]
    return subprocess.Popen(
        [sys.executable, "-m", "landun.cli", *args, *extra],
        cwd=ROOT, stdout=subprocess.DEVNULL, env=dict(os.environ),
    )  # fmt: skip


def archive_args(bootstrap: str, topics: Topics, archive: Path, *extra: str) -> list[str]:
    return [
        "archive", "--bootstrap", bootstrap, "--namespace", topics.namespace,
        "--archive", str(archive), "--port", "0", *extra,
    ]  # fmt: skip


def archive_process(bootstrap: str, topics: Topics, archive: Path, log: Path, *extra: str):
    """`landun archive` in a subprocess (for kill -9)."""
    with log.open("ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "landun.cli", *archive_args(bootstrap, topics, archive, *extra)],
            cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip


def table(archive: Path, name: str) -> list[dict]:
    """Every row of an archive table, from its finished files."""
    rows: list[dict] = []
    for path in sorted((archive / name).glob("day=*/*.parquet")):
        rows += pq.read_table(path).to_pylist()
    return rows


def ping_items(bootstrap: str, topics: Topics) -> dict[tuple[int, int, int], tuple]:
    """``(partition, offset, index) -> (item bytes, record timestamp)`` of every ping sent: each
    item of a batch record, a single record's value; a record that is not JSON counts once."""
    out = {}
    for rec in read_topic(bootstrap, topics.pings):
        if any(k == CONTROL_HEADER for k, _ in rec.headers or ()):
            continue
        try:
            value = loads_json(rec.value)
        except orjson.JSONDecodeError:
            value = None
        items = value if isinstance(value, list) and value else [value]
        for i, item in enumerate(items):
            out[(rec.partition, rec.offset, i)] = (item, rec.timestamp)
    return out


def dead_letters(bootstrap: str, topics: Topics) -> list[dict]:
    """The worker's dead letters: headers (source split) and the body's JSON when it has one."""
    out = []
    for rec in read_topic(bootstrap, topics.rejected):
        head = headers_dict(rec.headers)
        _, partition, offset = head["landun-source"].rsplit(":", 2)
        try:
            body = loads_json(rec.value)
        except orjson.JSONDecodeError:
            body = None
        index = head.get("landun-index")
        out.append(
            {
                "partition": int(partition),
                "offset": int(offset),
                "index": None if index is None else int(index),
                "reason": head["landun-reason"],
                "body": body,
            }
        )
    return out


def verdict_counts(rows: list[dict]) -> Counter:
    return Counter(r["verdict"] for r in rows if r["verdict"] != "accepted")
