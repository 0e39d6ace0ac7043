"""The terminal client's positions: a ping out as 0x0200, back in as the same ping (issue 14)."""

from __future__ import annotations

import pytest

from gateway.location import decode, encode
from gateway.terminals import SIM_VENDOR, location_of
from gateway.to_ping import Terminal, to_ping
from gateway.vendors import table_from_dict

VENDOR = table_from_dict(SIM_VENDOR).get("LDSIM")
BASE = {"vehicle": "V1", "ts": "2026-06-02T20:00:00+08:00", "lat": 31.512345, "lng": 120.301234,
        "speed_kmh": 42.5, "heading": 271, "acc": True}  # fmt: skip


@pytest.mark.parametrize(
    "extra, sensor, expect",
    [
        ({"loaded": "full", "lift": True, "cover_open": False}, True,
         {"loaded": "full", "lift": True, "cover_open": False}),
        ({"loaded": "half"}, True, {"loaded": "half"}),
        ({"loaded": "empty"}, True, {"loaded": "empty"}),
        ({"loaded": None}, True, {}),  # no reading: bits 10, no `loaded`
        ({}, True, {"loaded": "empty"}),  # no field: bits 00
        ({"loaded": "full"}, False, {}),  # no sensor in the registry: not a reading
        ({"acc": False}, True, {"acc": False, "loaded": "empty"}),
    ],
)  # fmt: skip
def test_a_ping_survives_the_wire(extra, sensor, expect):
    ping = {**BASE, **extra}
    wire = decode(encode(location_of(ping)))
    got = to_ping(wire, Terminal("V1", load_sensor=sensor, vendor=VENDOR), seq=3, received=9)
    want = {**BASE, "ts": 1_780_401_600_000, "acc": ping["acc"], **expect}
    want.pop("vehicle")
    assert {k: got[k] for k in want} == want
    assert set(got) - set(want) == {"vehicle", "source", "seq", "received"}


def test_heading_and_speed_quantised_as_the_wire_carries_them():
    wire = decode(encode(location_of({**BASE, "heading": 360.4, "speed_kmh": 12.34})))
    assert (wire.heading, wire.speed_kmh) == (0, 12.3)
