"""The files of an evidence pack (issue 12): the manifest checks every byte, the case document
(HTML and PDF) states the facts in Chinese, the track has a time per point, the pack is
deterministic."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET

import pypdf
import pytest

from replay.evidence import build_pack, verify_pack
from replay.evidence.manifest import MANIFEST
from replay.evidence.rules import RULES
from replay.evidence.summary import summary
from replay.evidence.trim import nearest_place
from replay.layout import SourceRange
from replay.reference import reference_events
from replay.writer import write_batch
from tests.replay.evidence.night import first_of

BUILT = 1_748_905_200_000  # 2025-06-03T07:00:00+08:00, the morning after


@pytest.fixture(scope="module")
def pack(night, tmp_path_factory):
    """``(folder, manifest, alert, registry)``: the pack of the night's first route deviation."""
    archive, alerts = night
    alert = first_of(alerts, "route_deviation")
    folder = tmp_path_factory.mktemp("pack") / "p"
    manifest = build_pack(archive, alert["id"], folder, built_at_ms=BUILT)
    registry = json.loads((folder / "registry.json").read_text())
    return folder, manifest, alert, registry


EXPECTED = {
    "pings.jsonl", "fences.geojson", "registry.json", "thresholds.json", "alert.json",
    "alert_versions.jsonl", "rule.md", "audit.json", "track.geojson", "track.kml",
    "report.html", "report.pdf", "reproduce.sh", "README.txt",
}  # fmt: skip


def test_the_manifest_lists_every_other_file_with_its_hash(pack):
    folder, manifest, alert, _ = pack
    assert set(manifest["files"]) == EXPECTED
    assert {p.name for p in folder.iterdir()} == EXPECTED | {MANIFEST}
    for name, entry in manifest["files"].items():
        data = (folder / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert manifest["alert"] == alert["id"]
    assert manifest["built_at"] == "2025-06-03T07:00:00+08:00"
    assert manifest["landun_version"]
    assert verify_pack(folder) == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_one_changed_byte_in_any_file_is_a_mismatch(pack, name, tmp_path):
    folder, *_ = pack
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in folder.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    data = bytearray((copy / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / name).write_bytes(bytes(data))
    assert verify_pack(copy) == [f"{name}: SHA-256 differs from the manifest"]
    (copy / name).unlink()
    assert verify_pack(copy) == [f"{name}: missing"]


def test_the_same_alert_gives_the_same_bytes(pack, night, tmp_path):
    """Nothing random or clock-dependent inside (the PDF is built ``invariant``)."""
    folder, manifest, alert, _ = pack
    again = build_pack(night[0], alert["id"], tmp_path / "again", built_at_ms=BUILT)
    assert again == manifest


def test_the_alert_and_its_versions_oldest_first(pack):
    folder, _, alert, _ = pack
    assert json.loads((folder / "alert.json").read_text()) == alert
    lines = (folder / "alert_versions.jsonl").read_bytes().splitlines()
    versions = [json.loads(line) for line in lines]
    assert len(versions) >= 2 and versions[-1] == alert  # raised, then ended
    assert versions[0]["ended_ts"] is None and alert["ended_ts"] is not None


def test_the_pings_are_the_vehicles_as_received_in_arrival_order(pack):
    folder, manifest, alert, _ = pack
    lines = (folder / "pings.jsonl").read_bytes().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == manifest["pings"] > 0
    assert {r["vehicle"] for r in records} == {alert["vehicle"]}
    received = [r["received"] for r in records]
    assert received == sorted(received)  # landun sim's received never decreases down the file
    evidence = {(p["lat"], p["lng"]) for p in alert["evidence"]["pings"]}
    assert evidence <= {(r["lat"], r["lng"]) for r in records}  # the gcj02 fixes, converted


def test_the_reference_is_trimmed_to_the_vehicle(pack, night):
    folder, _, alert, registry = pack
    assert alert["vehicle"] in {v["id"] for v in registry["vehicles"]}
    assert all(alert["vehicle"] in p["vehicles"] for p in registry["permits"])
    fences = {f["id"] for f in json.loads((folder / "fences.geojson").read_text())["features"]}
    permit = next(p for p in registry["permits"] if p["id"] == alert["permit"])
    assert {permit["site"], *permit["terminals"], *permit["corridors"]} <= fences
    everything = json.loads((night[0].parent / "night" / "fences.geojson").read_text())
    assert len(fences) < len(everything["features"])


def test_the_case_document_states_the_facts_in_chinese(pack):
    folder, manifest, alert, registry = pack
    vehicle = registry["vehicles"][[v["id"] for v in registry["vehicles"]].index(alert["vehicle"])]
    sha = manifest["files"]["pings.jsonl"]["sha256"]
    facts = [
        summary(alert, {f["id"]: f["properties"]["name"] for f in _features(folder)}),
        vehicle["plate"],
        vehicle["company"],
        RULES["route_deviation"].zh_name,
        alert["ts"],  # Beijing time, +08:00
        alert["permit"],
        f"{alert['evidence']['peak_m']}",  # metres off the corridor
        "deviation_m",
        sha,
    ]
    html = (folder / "report.html").read_text()
    for fact in facts:
        assert fact in html, fact
    features = _features(folder)
    near = nearest_place(features, alert)  # where, in words
    assert near is not None
    name = next(f["properties"]["name"] for f in features if f["id"] == near[0])
    assert f"<th>附近场所</th><td>{name}（{near[0]}）" in html
    assert "<svg" in html and "<polyline" in html and "<script" not in html
    pdf = (folder / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    reader = pypdf.PdfReader(folder / "report.pdf")
    assert len(reader.pages) >= 1
    text = "".join(page.extract_text() for page in reader.pages).replace("\n", "")
    for fact in facts:
        assert fact in text, fact
    fonts = reader.pages[0]["/Resources"]["/Font"].get_object().values()
    assert any("STSong-Light" in str(f.get_object()["/BaseFont"]) for f in fonts)


def _features(folder) -> list[dict]:
    return json.loads((folder / "fences.geojson").read_text())["features"]


def test_the_track_has_a_time_per_point(pack):
    folder, manifest, alert, _ = pack
    track = json.loads((folder / "track.geojson").read_text())
    line, mark = track["features"]
    coords, times = line["geometry"]["coordinates"], line["properties"]["datetimes"]
    assert len(coords) == len(times) > 1 and times == sorted(times)
    assert mark["properties"]["id"] == alert["id"]
    start, end = alert["ts"], alert["ended_ts"]
    states = line["properties"]["state"]
    hot = [t for t, s in zip(times, states, strict=True) if s == "violating"]
    assert hot and all(start <= t <= end for t in hot)  # same offset: ISO strings compare
    assert set(states) - {"violating"} <= {"loaded", "empty"}
    ns = {"k": "http://www.opengis.net/kml/2.2", "gx": "http://www.google.com/kml/ext/2.2"}
    kml = ET.parse(folder / "track.kml").getroot()
    gx = kml.find(".//gx:Track", ns)
    whens = [w.text for w in gx.findall("k:when", ns)]
    points = [c.text.split() for c in gx.findall("gx:coord", ns)]
    assert whens == times
    assert [[float(x), float(y)] for x, y, _ in points] == coords
    stamp = kml.find(".//k:Placemark/k:TimeStamp/k:when", ns)
    assert stamp.text == alert["ts"]


def test_the_rule_is_stated_in_both_languages_with_the_thresholds(pack):
    folder, *_ = pack
    rule = (folder / "rule.md").read_text()
    assert RULES["route_deviation"].zh in rule and RULES["route_deviation"].en in rule
    assert "- deviation_m: 150.0 m" in rule and "- deviation_ms: 60000 ms (1 min)" in rule


@pytest.mark.parametrize("where", [(31.49, 120.31), (None, None)])
def test_an_alert_without_archived_pings_still_gets_a_pack(tmp_path, where):
    """The alerts table holds it, the pings were never archived (or the alert has no point):
    the pack says what it has, nothing breaks."""
    features = [square_feature("site-1", "site")]
    registry = {"vehicles": [{"id": "V1", "kind": "muck", "company": "甲", "district": "梁溪",
                              "terminal_phone": "1", "plate": "苏B00001"}],
                "permits": [], "contracts": []}  # fmt: skip
    alert = {"id": "a1", "type": "overspeed", "vehicle": "V1", "district": "梁溪",
             "severity": "medium", "ts": "2025-06-02T21:00:00+08:00", "ended_ts": None,
             "lat": where[0], "lng": where[1], "fence": None, "permit": None, "trip": None,
             "late": False, "evidence": {"rule": "r", "thresholds": {}, "pings": []}}  # fmt: skip
    events = [*reference_events(features, registry, 0), ("alert", alert)]
    write_batch(tmp_path / "archive", SourceRange(0, 0), events=events)
    manifest = build_pack(tmp_path / "archive", "a1", tmp_path / "pack", built_at_ms=BUILT)
    assert manifest["pings"] == 0 and (tmp_path / "pack" / "pings.jsonl").read_bytes() == b""
    assert verify_pack(tmp_path / "pack") == []
    assert "苏B00001" in (tmp_path / "pack" / "report.html").read_text()
    if where[0] is None:
        assert "无定位数据" in (tmp_path / "pack" / "report.html").read_text()


def square_feature(fid: str, kind: str) -> dict:
    ring = [[120.30, 31.48], [120.301, 31.48], [120.301, 31.481], [120.30, 31.481], [120.30, 31.48]]
    return {"type": "Feature", "id": fid, "properties": {"kind": kind, "name": fid},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}  # fmt: skip
