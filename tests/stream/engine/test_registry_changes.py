"""Reference data changes under a running engine (a worker reloads the registry live)."""

from __future__ import annotations

from stream.engine import finish, process
from stream.registry import Registry
from tests.stream.engine.test_alerts import FULL, loaded_at_site
from tests.stream.engine.world import LAT, context, parked, registry_mapping


def test_a_vehicle_removed_from_the_registry_mid_trip_stops_being_supervised():
    ctx = context()
    states, _ = process(loaded_at_site().drive(LAT, 120.29, **FULL).pings, ctx)
    assert states.vehicles["M1"].trip is not None and states.vehicles["M1"].pending
    reg = registry_mapping()
    reg["vehicles"] = [v for v in reg["vehicles"] if v["id"] != "M1"]
    reg["permits"] = [p for p in reg["permits"] if "M1" not in p["vehicles"]]
    ctx.registry = Registry.from_mapping(reg)
    ctx.refresh()
    states, events = process(parked(hours=5).pings, ctx, states)  # time passes: ticks
    states, more = finish(ctx, states)
    events += more
    # Its buffered ping is rejected with a reason; no deadline or signal alert for it.
    rejected = [
        e["reason"] for kind, e in events if kind == "rejected" and e["ping"]["vehicle"] == "M1"
    ]
    assert rejected == ["filter_unknown_vehicle"]
    assert not [e for kind, e in events if kind != "rejected" and e.get("vehicle") == "M1"]
