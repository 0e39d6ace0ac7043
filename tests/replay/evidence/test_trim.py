"""The reference data a pack keeps (issue 12; replay.evidence.trim): what concerns the vehicle,
everything the engine could have looked at, and a registry ``landun detect`` accepts."""

from __future__ import annotations

from geofence.loader import load_fences
from replay.evidence.trim import REACH_M, trim_reference
from stream.registry import Registry
from tests.replay.archive_world import at


def square(fid: str, kind: str, north_m: float, east_m: float, side_m: float = 100.0) -> dict:
    corners = [(0, 0), (0, side_m), (side_m, side_m), (side_m, 0), (0, 0)]
    ring = [[at(north_m + n, east_m + e)[1], at(north_m + n, east_m + e)[0]] for n, e in corners]
    return {
        "type": "Feature",
        "id": fid,
        "properties": {"kind": kind, "name": fid, "district": "梁溪"},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def vehicle(vid: str, company: str, kind: str = "muck") -> dict:
    return {"id": vid, "kind": kind, "company": company, "district": "梁溪",
            "terminal_phone": "013900000000", "plate": f"苏B{vid}"}  # fmt: skip


def permit(pid: str, site: str, vehicles: list[str], terminals: list[str], corridors=()) -> dict:
    return {"id": pid, "site": site, "vehicles": vehicles, "terminals": terminals,
            "corridors": list(corridors), "valid_from": "2025-01-01", "valid_to": "2025-12-31",
            "hours": []}  # fmt: skip


# The truck V1 drives 2 km east from the centre. Places by where they lie from its track.
FEATURES = [
    square("site-on-track", "site", -50, 0),
    square("terminal-4km", "terminal", 4_000, 1_000),  # within the engine's reach
    square("terminal-far", "terminal", 20_000, 0),  # named by V1's permit: kept anyway
    square("depot-far", "depot", -9_000, 0),  # nothing names it, out of reach: dropped
    square("producer-near", "producer", 300, 1_500),
    square("producer-far", "producer", 15_000, 15_000),
    square("site-other", "site", 30_000, 0),
]
REGISTRY = {
    "vehicles": [
        vehicle("V1", "甲公司"),
        vehicle("V2", "甲公司"),
        vehicle("K9", "乙公司", "kitchen"),
        vehicle("K8", "丙公司", "kitchen"),
        vehicle("V3", "丁公司"),
    ],
    "permits": [
        permit(
            "P1", "site-on-track", ["V1", "V2"], ["terminal-far", "terminal-gone"], ["cor-gone"]
        ),
        permit("P-gone", "site-gone", ["V1"], ["terminal-4km"]),
        permit("P3", "site-other", ["V3"], ["terminal-far"]),
    ],
    "contracts": [
        {"id": "C9", "vehicle": "K9", "producers": ["producer-near"], "plants": []},
        {"id": "C8", "vehicle": "K8", "producers": ["producer-far"], "plants": []},
    ],
}
TRACK = [at(0, 10.0 * k) for k in range(201)]  # 0..2 km east
ALERT = {"lat": TRACK[-1][0], "lng": TRACK[-1][1], "fence": None}


def test_keeps_what_concerns_the_vehicle_and_drops_the_rest():
    ref = trim_reference(FEATURES, REGISTRY, "V1", TRACK, ALERT)
    assert [f["id"] for f in ref.features] == [
        "site-on-track",
        "terminal-4km",
        "terminal-far",
        "producer-near",
    ]
    assert [p["id"] for p in ref.registry["permits"]] == ["P1"]  # P-gone: its site is not in force
    assert ref.registry["permits"][0]["terminals"] == ["terminal-far"]
    assert ref.registry["permits"][0]["corridors"] == []
    assert [c["id"] for c in ref.registry["contracts"]] == ["C9"]  # a producer it passed: poaching
    assert [v["id"] for v in ref.registry["vehicles"]] == ["V1", "V2", "K9"]
    assert ref.notes == (
        "permits 'P1': terminals: terminal-gone not in force",
        "permits 'P1': corridors: cor-gone not in force",
        "permits 'P-gone': site: site-gone not in force",
    )


def test_the_trimmed_registry_passes_landun_detect_s_checks():
    ref = trim_reference(FEATURES, REGISTRY, "V1", TRACK, ALERT)
    kinds = {f.id: str(f.kind) for f in load_fences(ref.features)}
    Registry.from_mapping(ref.registry, fences=kinds)  # raises RegistryError otherwise


def test_the_reach_is_measured_from_the_segments_between_fixes():
    """Two fixes 20 km apart (a fast stretch, or fixes lost): the engine judged the straight line
    between them (a zone crossed, ``crossing_gap_ms``), so a place 5 km beside its middle is
    kept though 11 km from either fix."""
    ends = [at(0, 0), at(0, 20_000)]
    start = square("depot-start", "depot", -50, -50)  # by the first fix, kept anyway
    beside = square("restricted-beside", "restricted", REACH_M - 500, 10_000)
    beyond = square("restricted-beyond", "restricted", REACH_M + 200, 10_000)
    kept = trim_reference([start, beside, beyond], REGISTRY, "V1", ends, ALERT).features
    assert [f["id"] for f in kept] == ["depot-start", "restricted-beside"]


def test_a_drive_far_from_every_place_keeps_one_fence_for_landun_detect():
    """landun detect refuses a fence file without features; one far away changes nothing."""
    far = [at(60_000, 60_000), at(60_000, 61_000)]
    alone = {"vehicles": [vehicle("V9", "戊公司")], "permits": [], "contracts": []}
    ref = trim_reference(FEATURES, alone, "V9", far, {"lat": far[0][0], "lng": far[0][1]})
    assert [f["id"] for f in ref.features] == ["depot-far"]  # the first id of all
    assert ref.registry == alone
