"""Which reference a pack takes (issue 12): in force at the alert's time — unless the archive
dates the reference after the alert (a Kafka archive dates each version when it was published;
a late blind-area batch or a past night fed through Kafka comes before it)."""

from __future__ import annotations

import shutil

import orjson
import pytest

from landun.cli import main as landun
from replay.evidence import build_pack
from replay.layout import SourceRange
from replay.reference import reference_events
from replay.writer import write_batch
from tests.replay.archive_world import MIDNIGHT
from tests.replay.evidence.tiny import tiny_archive

DAY = 86_400_000


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_archive(tmp_path_factory.mktemp("evidence-reference"))


def redated(archive, to, published_ms: int):
    """A copy of ``archive`` whose reference versions are all dated ``published_ms``."""
    for table in ("pings", "cells", "alerts", "trips", "fence_events", "stops"):
        if (archive / table).exists():
            shutil.copytree(archive / table, to / table)
    inputs = archive.parent
    features = orjson.loads((inputs / "fences.geojson").read_bytes())["features"]
    registry = orjson.loads((inputs / "registry.json").read_bytes())
    events = reference_events(features, registry, published_ms)
    write_batch(to, SourceRange(0, 0, partition=0), events=events)
    return to


@pytest.mark.parametrize(
    ("published", "as_of"),
    [
        (0, "alert"),  # an embedded run's snapshot: in force all along
        (MIDNIGHT + 60_000, "end"),  # published during the night, after the alert
        (MIDNIGHT + 2 * DAY, None),  # a past night fed through Kafka: the latest
    ],
)
def test_the_reference_that_holds_the_vehicle(tiny, tmp_path, published, as_of, monkeypatch):
    archive, alerts = tiny
    alert = alerts["LX-1"]
    copy = redated(archive, tmp_path / "archive", published)
    manifest = build_pack(copy, alert["id"], tmp_path / "pack", built_at_ms=0)
    expected = {"alert": alert["ts"], "end": manifest["to"], None: None}[as_of]
    assert manifest["reference_as_of"] == expected
    registry = orjson.loads((tmp_path / "pack" / "registry.json").read_bytes())
    assert [v["id"] for v in registry["vehicles"]] == ["LX-1"]
    monkeypatch.chdir(tmp_path / "pack")
    assert landun(manifest["reproduce"][1:]) == 0
    again = [orjson.loads(line) for line in (tmp_path / "pack" / "alerts.rerun.jsonl").open("rb")]
    assert alert in again
    readme = (tmp_path / "pack" / "README.txt").read_text()
    assert f"in force at {expected or 'the latest archived version'}" in readme
