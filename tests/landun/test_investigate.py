"""`landun track`, `landun who-was-here`, `landun stops` through the real CLI entry point, on a
small archive: an inspector's questions the morning after (issue 12)."""

from __future__ import annotations

import json

import orjson
import pytest

from landun.cli import main
from replay.layout import SourceRange
from replay.writer import write_batch
from stream.eventtime import iso_ts
from tests.replay.archive_world import MIDNIGHT, at, row

MIN = 60_000
T0 = MIDNIGHT - 60 * MIN  # 23:00
FROM, TO = "2025-06-02T23:00:00+08:00", "2025-06-03T01:00:00+08:00"
DUMP = at(0, 3000)  # where the inspector found the dump at dawn


def vehicle(vid: str, company: str) -> dict:
    return {"id": vid, "kind": "muck", "company": company, "district": "梁溪"}


def stop(vid: str, minute: int, minutes: int, pos) -> tuple:
    ts = T0 + minute * MIN
    return (
        "stop",
        {
            "vehicle": vid,
            "ts": iso_ts(ts),
            "ended_ts": iso_ts(ts + minutes * MIN),
            "lat": pos[0],
            "lng": pos[1],
            "duration_s": minutes * 60.0,
            "loaded": True,
            "at_known_place": False,
        },
    )


@pytest.fixture
def archive(tmp_path):
    """V1 (华鑫) drives east through the dump site and stops there 6 minutes loaded; V2 (华鑫)
    passes 1 km north; V3 (城投) stays at home. The registry as archived: V2 joined 华鑫 at
    midnight."""
    rows = []
    for m in range(0, 61, 2):
        east = min(150 * m, 3000) if m < 20 or m > 26 else 3000
        east = east if m <= 26 else 3000 + 150 * (m - 26)
        rows.append(row("V1", T0 + m * MIN, at(0, east), ingest=len(rows), loaded="full"))
        rows.append(row("V2", T0 + m * MIN, at(1000, 100 * m), ingest=len(rows)))
        rows.append(row("V3", T0 + m * MIN, at(-5000, 0), ingest=len(rows)))
    events = [
        stop("V1", 20, 6, DUMP),
        stop("V3", 10, 40, at(-5000, 0)),
        (
            "registry_version",
            {"section": "vehicles", "id": "V1", "ts": 0, "entry": vehicle("V1", "华鑫")},
        ),
        (
            "registry_version",
            {"section": "vehicles", "id": "V2", "ts": 0, "entry": vehicle("V2", "城投")},
        ),
        (
            "registry_version",
            {"section": "vehicles", "id": "V2", "ts": MIDNIGHT, "entry": vehicle("V2", "华鑫")},
        ),
        (
            "registry_version",
            {"section": "vehicles", "id": "V3", "ts": 0, "entry": vehicle("V3", "城投")},
        ),
    ]
    write_batch(tmp_path, SourceRange(0, len(rows) - 1), rows, events)
    return tmp_path


def landun(capsys, *args) -> tuple[int, object, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, (orjson.loads(out) if out.strip() else None), err


def test_which_trucks_stopped_at_the_dump(archive, capsys):
    code, out, err = landun(
        capsys,
        "who-was-here",
        "--lat",
        str(DUMP[0]),
        "--lng",
        str(DUMP[1]),
        "--radius-m",
        "300",
        "--from",
        FROM,
        "--to",
        TO,
        "--archive",
        str(archive),
    )
    assert (code, err) == (0, "")
    (hit,) = out["vehicles"]
    assert hit["vehicle"] == "V1" and hit["closest_m"] == 0.0 and hit["loaded"] is True
    assert hit["inside_s"] >= 360.0 and set(hit) == {
        "vehicle",
        "closest_m",
        "inside_s",
        "fixes",
        "first",
        "last",
        "loaded",
        "lift",
    }


def test_who_was_here_in_a_polygon_file(archive, tmp_path, capsys):
    (s, w), (n, e) = at(800, -500), at(1200, 1000)
    feature = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
    }
    path = tmp_path / "area.geojson"
    path.write_text(json.dumps(feature), encoding="utf-8")
    code, out, _ = landun(
        capsys,
        "who-was-here",
        "--polygon",
        str(path),
        "--from",
        FROM,
        "--to",
        TO,
        "--archive",
        str(archive),
    )
    assert code == 0
    assert [(h["vehicle"], h["closest_m"]) for h in out["vehicles"]] == [("V2", 0.0)]
    code, out, _ = landun(
        capsys,
        "who-was-here",
        "--polygon",
        str(path),
        "--from",
        FROM,
        "--to",
        TO,
        "--vehicles",
        "V1,V3",
        "--archive",
        str(archive),
    )
    assert (code, out) == (0, {"vehicles": []})


def test_the_track_in_pages(archive, capsys):
    code, first, _ = landun(
        capsys,
        "track",
        "V1",
        "--from",
        FROM,
        "--to",
        TO,
        "--limit",
        "20",
        "--archive",
        str(archive),
    )
    assert code == 0 and first["type"] == "FeatureCollection" and first["next"]
    assert len(first["features"][0]["properties"]["datetimes"]) == 20
    assert [f["properties"]["kind"] for f in first["features"][1:]] == ["stop"]
    code, rest, _ = landun(
        capsys,
        "track",
        "V1",
        "--from",
        FROM,
        "--to",
        TO,
        "--limit",
        "20",
        "--cursor",
        first["next"],
        "--archive",
        str(archive),
    )
    assert code == 0 and rest["next"] is None
    assert len(rest["features"][0]["properties"]["datetimes"]) == 11


def test_stops_of_a_vehicle_and_of_a_company(archive, tmp_path, capsys):
    base = ["--from", FROM, "--to", TO, "--archive", str(archive)]
    code, out, _ = landun(capsys, "stops", "--vehicle", "V1", *base)
    assert code == 0
    assert out == {
        "stops": [
            {
                "vehicle": "V1",
                "ts": iso_ts(T0 + 20 * MIN),
                "ended_ts": iso_ts(T0 + 26 * MIN),
                "duration_s": 360.0,
                "lat": DUMP[0],
                "lng": DUMP[1],
                "loaded": True,
                "at_known_place": False,
            }
        ]
    }
    # the archive's registry as of --to: V3 is 城投's
    code, out, _ = landun(capsys, "stops", "--company", "城投", *base)
    assert [s["vehicle"] for s in out["stops"]] == ["V3"]
    # as of 23:30, V2 was still 城投's; it stopped nowhere
    code, out, _ = landun(
        capsys,
        "stops",
        "--company",
        "城投",
        "--from",
        FROM,
        "--to",
        "2025-06-02T23:30:00+08:00",
        "--archive",
        str(archive),
    )
    assert (code, [s["vehicle"] for s in out["stops"]]) == (0, ["V3"])
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps({"vehicles": [vehicle("V1", "城投")]}), encoding="utf-8")
    code, out, _ = landun(capsys, "stops", "--company", "城投", "--registry", str(registry), *base)
    assert [s["vehicle"] for s in out["stops"]] == ["V1"]


def test_a_company_resolves_as_of_the_window_end(archive, capsys, monkeypatch):
    """V2 joined 华鑫 at midnight: asked up to 23:30 华鑫 is V1 alone, up to 01:00 V1 and V2."""
    from landun.commands import investigate

    asked = []
    monkeypatch.setattr(
        investigate, "stops", lambda a, f, t, *, vehicles: asked.append(vehicles) or []
    )
    for to in ("2025-06-02T23:30:00+08:00", TO):
        assert (
            landun(
                capsys,
                "stops",
                "--company",
                "华鑫",
                "--from",
                FROM,
                "--to",
                to,
                "--archive",
                str(archive),
            )[0]
            == 0
        )
    assert asked == [["V1"], ["V1", "V2"]]


BAD = [
    (["track", "V1", "--from", "yesterday", "--to", TO], "landun track: ", "ISO 8601"),
    (["track", "V1", "--from", TO, "--to", FROM], "landun track: ", "swap"),
    (["track", "V1", "--from", FROM, "--to", TO, "--limit", "0"], "landun track: ", "from 1"),
    (["track", "V1", "--from", FROM, "--to", TO, "--cursor", "x"], "landun track: ", "cursor"),
    (
        ["who-was-here", "--lat", "31.49", "--from", FROM, "--to", TO],
        "landun who-was-here: ",
        "together",
    ),
    (
        [
            "who-was-here",
            "--lat",
            "31.49",
            "--lng",
            "120.31",
            "--radius-m",
            "9000",
            "--from",
            FROM,
            "--to",
            TO,
        ],
        "landun who-was-here: ",
        "at most 5000",
    ),
    (
        ["who-was-here", "--polygon", "/nonexistent.geojson", "--from", FROM, "--to", TO],
        "landun who-was-here: ",
        "cannot read",
    ),
    (
        ["stops", "--company", "无此公司", "--from", FROM, "--to", TO],
        "landun stops: ",
        "no vehicle of company",
    ),
    (
        ["stops", "--vehicle", "V1", "--from", FROM, "--to", "2025-08-03T00:00:00+08:00"],
        "landun stops: ",
        "at most a month",
    ),
]


@pytest.mark.parametrize(("args", "prefix", "hint"), BAD)
def test_a_bad_request_exits_2_saying_why(archive, capsys, args, prefix, hint):
    code, out, err = landun(capsys, *args, "--archive", str(archive))
    assert (code, out) == (2, None)
    assert err.startswith(prefix) and hint in err, err


def test_a_polygon_file_with_a_point_is_refused(archive, tmp_path, capsys):
    path = tmp_path / "point.geojson"
    path.write_text('{"type": "Point", "coordinates": [120.31, 31.49]}', encoding="utf-8")
    code, _, err = landun(
        capsys,
        "who-was-here",
        "--polygon",
        str(path),
        "--from",
        FROM,
        "--to",
        TO,
        "--archive",
        str(archive),
    )
    assert code == 2 and "type Polygon" in err


def test_a_missing_archive_is_named(tmp_path, capsys):
    for args in (["track", "V1"], ["stops", "--company", "华鑫"]):
        code, _, err = landun(
            capsys, *args, "--from", FROM, "--to", TO, "--archive", str(tmp_path / "none")
        )
        assert code == 2 and "LANDUN_ARCHIVE_DIR" in err


def damage(archive) -> None:
    """A truncated copy of each table's file under a final name (a copy cut short on its way to
    object storage, a bad disk): not a file the writer would leave (it renames only whole ones)."""
    for table in ("pings", "cells", "stops", "alerts", "trips", "fence_events", "registry"):
        for path in sorted(archive.glob(f"{table}/day=*/s0-*.parquet")):
            (path.parent / "s9000-9001.parquet").write_bytes(path.read_bytes()[:300])


@pytest.mark.parametrize(
    "args",
    [
        ["track", "V1"],
        ["who-was-here", "--lat", str(DUMP[0]), "--lng", str(DUMP[1]), "--radius-m", "300"],
        ["stops", "--vehicle", "V1"],
        ["replay"],
    ],
)
def test_a_damaged_file_is_named_not_a_traceback(archive, capsys, args):
    """Review R1: a damaged Parquet file under a final name exits 2 naming it, no traceback."""
    damage(archive)
    code, out, err = landun(capsys, *args, "--from", FROM, "--to", TO, "--archive", str(archive))
    assert (code, out) == (2, None)
    assert err.startswith(f"landun {args[0]}: cannot read the archive") and "s9000-9001" in err


def test_a_polygon_drawn_in_a_map_tool_is_a_feature_collection(archive, tmp_path, capsys):
    """Review R1: geojson.io, QGIS and the like save one drawn polygon as a FeatureCollection
    holding it; two polygons are refused, saying to give one."""
    (s, w), (n, e) = at(800, -500), at(1200, 1000)
    ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
    drawn = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon",
                                                                "coordinates": [ring]}}  # fmt: skip
    args = ["who-was-here", "--from", FROM, "--to", TO, "--archive", str(archive), "--polygon"]
    one, two = tmp_path / "one.geojson", tmp_path / "two.geojson"
    one.write_text(json.dumps({"type": "FeatureCollection", "features": [drawn]}), "utf-8")
    two.write_text(json.dumps({"type": "FeatureCollection", "features": [drawn, drawn]}), "utf-8")
    code, out, _ = landun(capsys, *args, str(one))
    assert code == 0 and [h["vehicle"] for h in out["vehicles"]] == ["V2"]
    code, out, err = landun(capsys, *args, str(two))
    assert (code, out) == (2, None) and "2 features" in err and "one polygon" in err


def test_a_damaged_reference_with_thresholds_is_named(archive, tmp_path, capsys):
    """Review R1: landun replay --thresholds reads the archive's reference on its own path."""
    damage(archive)
    settings = tmp_path / "thresholds.json"
    settings.write_text("{}", encoding="utf-8")
    args = ["replay", "--from", FROM, "--to", TO, "--archive", str(archive)]
    code, out, err = landun(capsys, *args, "--thresholds", str(settings))
    assert (code, out) == (2, None)
    assert err.startswith("landun replay: cannot read the archive") and "s9000-9001" in err
