"""`landun fences check|match|bench` through the real CLI entry point."""

import json
from importlib.resources import files

import pytest
import shapely

from geofence import FenceIndex, load_fences
from geofence.datum import transform
from geofence.model import FenceKind
from landun.cli import main

DEMO = str(files("geofence") / "data" / "wuxi_demo.geojson")
SQUARE = [[120.30, 31.50], [120.31, 31.50], [120.31, 31.51], [120.30, 31.51], [120.30, 31.50]]


def site(fid, **props):
    return {
        "type": "Feature",
        "id": fid,
        "properties": {"kind": "site", **props},
        "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
    }


@pytest.fixture
def broken_file(tmp_path):
    features = [
        site("good-site"),
        site("bad-kind", kind="muckyard"),
        site("bad-speed", speed_limit_kmh=-5),
        {**site("x"), "id": None},
    ]
    path = tmp_path / "broken.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return str(path)


def test_check_valid_file_summarises_each_kind(capsys):
    assert main(["fences", "check", DEMO]) == 0
    out = capsys.readouterr().out
    fences = load_fences(DEMO)
    assert f"{len(fences)} fences" in out.splitlines()[0]
    for kind in FenceKind:
        count = sum(f.kind is kind for f in fences)
        assert any(line.split() == [kind.value, str(count)] for line in out.splitlines())
    assert any(line.split() == ["total", str(len(fences))] for line in out.splitlines())
    assert "problem" not in out.replace("no problems", "")


def test_check_broken_file_prints_every_problem(capsys, broken_file):
    assert main(["fences", "check", broken_file]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any(line.split() == ["site", "1"] for line in lines)  # only good-site is valid
    assert f"{broken_file}: 3 problems" in out
    assert any(line.strip().startswith("bad-kind: unknown kind 'muckyard'") for line in lines)
    assert any(line.strip().startswith("bad-speed: speed_limit_kmh") for line in lines)
    assert any(line.strip() == "#3: missing id" for line in lines)
    assert "good-site:" not in out


def test_check_not_json_is_a_problem_and_missing_file_is_unreadable(capsys, tmp_path):
    bad = tmp_path / "bad.geojson"
    bad.write_text("{ nope")
    assert main(["fences", "check", str(bad)]) == 1
    assert "not valid JSON" in capsys.readouterr().out
    missing = tmp_path / "absent.geojson"
    assert main(["fences", "check", str(missing)]) == 2
    assert f"cannot read {missing}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (
            {"type": "FeatureCollection", "features": []},
            ["no fences: the FeatureCollection is empty"],
        ),
        ([], ["no fences: the list of features is empty"]),
        (
            {"type": "FeatureCollection", "crs": "EPSG:3857", "features": []},
            ["no fences: the FeatureCollection is empty", "a 'crs' other than WGS-84"],
        ),
    ],
    ids=["empty collection", "empty list", "empty collection with a bad crs"],
)
def test_check_a_file_without_a_fence_says_so(capsys, tmp_path, content, said):
    """Issue 13: a newcomer's empty FeatureCollection read as "0 valid fences" over a table of
    zeros, and an empty list as "ok: no problems" (exit 0). Now: one plain sentence, exit 1 (the
    command's "the fence file has problems")."""
    path = tmp_path / "empty.geojson"
    path.write_text(json.dumps(content))
    assert main(["fences", "check", str(path)]) == 1
    out = capsys.readouterr().out
    for words in said:
        assert words in out
    assert "total" not in out and "ok" not in out.split()


def demo_site():
    fences = {f.id: f for f in load_fences(DEMO)}
    fence = fences["site-jingkai-taihu-newtown"]
    centre = fence.area.representative_point()
    return fence, centre.y, centre.x


def test_match_converts_the_point_from_its_datum(capsys):
    fence, lat, lng = demo_site()
    g_lng, g_lat = transform(lng, lat, "wgs84", "gcj02")
    argv = ["fences", "match", DEMO, "--lat", repr(g_lat), "--lng", repr(g_lng)]
    assert main([*argv, "--datum", "gcj02"]) == 0
    out = capsys.readouterr().out
    assert f"{fence.id}\tsite\t{fence.name}" in out
    # the same numbers taken as WGS-84 are some 500 m away, off the site
    assert main(argv) == 0
    assert fence.id not in capsys.readouterr().out


def test_match_json_lists_the_index_matches(capsys):
    _, lat, lng = demo_site()
    expected = FenceIndex(load_fences(DEMO)).match(lat, lng)
    assert expected
    assert main(["fences", "match", DEMO, "--lat", str(lat), "--lng", str(lng), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [f["id"] for f in doc["fences"]] == expected
    assert doc["point"]["datum"] == "wgs84" and doc["input"]["datum"] == "wgs84"
    assert doc["point"]["lat"] == pytest.approx(lat) and doc["fences"][0]["kind"] == "site"


def test_match_outside_every_fence_and_in_a_hole(capsys):
    assert main(["fences", "match", DEMO, "--lat", "31.0", "--lng", "121.0"]) == 0
    assert capsys.readouterr().out.startswith("0 fences cover")
    fences = {f.id: f for f in load_fences(DEMO)}
    zone = fences["restricted-jingkai-taihu-newtown"]
    hole = shapely.Polygon(zone.area.interiors[0])
    between = hole.difference(fences["site-jingkai-taihu-newtown"].area).representative_point()
    assert main(["fences", "match", DEMO, "--lat", str(between.y), "--lng", str(between.x)]) == 0
    assert capsys.readouterr().out.startswith("0 fences cover")


def test_match_refuses_broken_files_and_bad_points(capsys, broken_file):
    assert main(["fences", "match", broken_file, "--lat", "31.5", "--lng", "120.3"]) == 1
    assert "bad-kind" in capsys.readouterr().out
    assert main(["fences", "match", DEMO, "--lat", "nan", "--lng", "120.3"]) == 2
    assert main(["fences", "match", DEMO, "--lat", "120.3", "--lng", "31.5"]) == 2
    with pytest.raises(SystemExit):
        main(["fences", "match", DEMO, "--lat", "31.5", "--lng", "120.3", "--datum", "utm"])


def test_bench_passes_every_remaining_argument_through(monkeypatch):
    import bench.geofence

    seen = []
    monkeypatch.setattr(bench.geofence, "main", lambda argv: seen.append(argv) or 3)
    argv = ["--fences", "10", "--points", "100", "--json", "--help"]
    assert main(["fences", "bench", *argv]) == 3
    assert main(["fences", "bench"]) == 3
    assert seen == [argv, []]


def test_fences_needs_a_sub_command():
    with pytest.raises(SystemExit) as info:
        main(["fences"])
    assert info.value.code == 2
