"""``restricted_zone`` evidence names the zone and the rule of it that applied (issue 11): the
hours window the vehicle was inside in, and the vehicle class the zone restricts."""

from __future__ import annotations

from tests.stream.engine.test_alerts import restricted, restricted_crossing
from tests.stream.engine.world import run


def test_inside_a_zone_during_its_window():
    (alert,) = run(restricted("2025-06-02 08:00")).of("restricted_zone")
    evidence = alert["evidence"]
    assert alert["fence"] == "Z1"
    assert evidence["zone"] == {
        "id": "Z1",
        "name": "Z1",
        "hours": ["07:00-09:00"],
        "vehicle_kinds": ["muck"],
    }
    assert evidence["window"] == "07:00-09:00" and evidence["vehicle_kind"] == "muck"


def test_a_zone_restricted_always_has_no_window():
    (alert,) = run(restricted_crossing()).of("restricted_zone")
    evidence = alert["evidence"]
    assert evidence["zone"]["hours"] == [] and evidence["zone"]["vehicle_kinds"] == []
    assert evidence["window"] is None and evidence["vehicle_kind"] == "muck"
    assert evidence["crossed"] is True
