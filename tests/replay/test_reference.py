"""Reference data as of a time, read back from the archive's version tables (issue 12).

The bureau's story: a fence is drawn, re-drawn larger, removed and drawn again; a permit is
issued, extended to a second terminal, revoked; a vehicle is registered before all of it. An
investigator replaying a night must see each as it was then.
"""

from __future__ import annotations

import copy

import pytest

from replay.layout import SourceRange
from replay.reference import context_as_of, reference_as_of, reference_events
from replay.writer import write_batch
from tests.stream.engine.world import fences_geojson, registry_mapping

H = 3_600_000
T0 = 1748869200000  # 2025-06-02T21:00:00+08:00


def _fence(fid: str, half: float) -> dict:
    box = [[120.31 - half, 31.49 - half], [120.31 + half, 31.49 - half],
           [120.31 + half, 31.49 + half], [120.31 - half, 31.49 + half],
           [120.31 - half, 31.49 - half]]  # fmt: skip
    return {"type": "Feature", "id": fid, "properties": {"kind": "terminal"},
            "geometry": {"type": "Polygon", "coordinates": [box]}}  # fmt: skip


PERMIT = {"id": "P-1", "site": "S1", "vehicles": ["M1"], "terminals": ["T1"]}
WIDER = {**PERMIT, "terminals": ["T1", "T9"]}

# (ts, kind, payload) in the order a writer archives them; several batches, several days.
M1 = {"id": "M1", "kind": "muck"}
HISTORY = [
    (0, "registry_version", {"section": "vehicles", "id": "M1", "entry": M1}),
    (T0, "fence_version", {"id": "T9", "feature": _fence("T9", 0.001)}),
    (T0, "registry_version", {"section": "permits", "id": "P-1", "entry": PERMIT}),
    (T0 + 1 * H, "fence_version", {"id": "T9", "feature": _fence("T9", 0.002)}),
    (T0 + 2 * H, "registry_version", {"section": "permits", "id": "P-1", "entry": WIDER}),
    (T0 + 3 * H, "fence_version", {"id": "T9", "feature": None}),
    (T0 + 4 * H, "registry_version", {"section": "permits", "id": "P-1", "entry": None}),
    (T0 + 30 * H, "fence_version", {"id": "T9", "feature": _fence("T9", 0.003)}),
]  # fmt: skip


@pytest.fixture
def archive(tmp_path):
    for k, (ts, kind, payload) in enumerate(HISTORY):
        write_batch(tmp_path, SourceRange(k, k), events=[(kind, {**payload, "ts": ts})])
    return tmp_path


def _half(feature: dict) -> float:
    ring = feature["geometry"]["coordinates"][0]
    return round((ring[1][0] - ring[0][0]) / 2, 6)


@pytest.mark.parametrize(
    "at, fence_half, permit",
    [
        (-1, None, None),  # before anything: even the ts = 0 snapshot is not yet in force
        (0, None, None),
        (T0 - 1, None, None),  # the first version after T: absent
        (T0, 0.001, PERMIT),  # ts <= T: in force at its own millisecond
        (T0 + H - 1, 0.001, PERMIT),
        (T0 + H, 0.002, PERMIT),  # re-drawn larger
        (T0 + 2 * H, 0.002, WIDER),  # the permit gains a terminal
        (T0 + 3 * H, None, WIDER),  # fence removed: absent, not its last geometry
        (T0 + 4 * H, None, None),  # permit revoked
        (T0 + 29 * H, None, None),
        (T0 + 30 * H, 0.003, None),  # drawn again (another day partition)
    ],
)
def test_each_id_as_its_latest_version_at_or_before_t(archive, at, fence_half, permit):
    features, registry = reference_as_of(archive, at)
    assert [_half(f) for f in features] == ([] if fence_half is None else [fence_half])
    assert registry["permits"] == ([] if permit is None else [permit])
    assert registry["vehicles"] == ([] if at < 0 else [M1])
    assert registry["contracts"] == []


def test_an_empty_archive_has_no_reference(tmp_path):
    assert reference_as_of(tmp_path, T0) == ([], {"vehicles": [], "permits": [], "contracts": []})


def test_a_snapshot_at_0_reads_back_as_written_and_builds_the_engine_context(tmp_path):
    fences, registry = fences_geojson(), registry_mapping()
    events = reference_events(fences["features"], registry, 0)
    assert len(events) == len(fences["features"]) + sum(len(v) for v in registry.values())
    write_batch(tmp_path, SourceRange(0, 99), events=events)
    features, got = reference_as_of(tmp_path, T0)
    assert features == sorted(fences["features"], key=lambda f: f["id"])
    assert got == {s: sorted(v, key=lambda e: e["id"]) for s, v in registry.items()}
    ctx = context_as_of(tmp_path, T0)
    assert sorted(ctx.registry.vehicles) == ["K1", "M1", "M2", "O1"]
    assert ctx.registry.permits["P-1"].terminals == {"T1", "W1"}
    assert {f.id for f in ctx.index} == {f["id"] for f in fences["features"]}


def test_a_later_snapshot_supersedes_only_what_it_names(tmp_path):
    """A writer that archives a changed registry later (the Kafka consumer at a record's time)
    leaves the entries it does not repeat as they were."""
    registry = registry_mapping()
    write_batch(tmp_path, SourceRange(0, 0), events=reference_events([], registry, 0))
    changed = copy.deepcopy(registry["vehicles"][1])
    changed["district"] = "Xinwu"
    later = reference_events([], {"vehicles": [changed]}, T0)
    write_batch(tmp_path, SourceRange(1, 1), events=later)
    before = reference_as_of(tmp_path, T0 - 1)[1]["vehicles"]
    after = reference_as_of(tmp_path, T0)[1]["vehicles"]
    assert {v["id"]: v.get("district") for v in after}["M2"] == "Xinwu"
    assert {v["id"]: v.get("district") for v in before}["M2"] == "Binhu"
    assert len(after) == len(before) == 4
