"""The kitchen-waste and waste-oil chain as the bureau described it in issue 11 (docs/domain.md):
deliveries with no collection (来源不明), collections at another company's producers (抢收),
and a vehicle creeping in a jam, which is not a collection: a collection is a stop in one place.
"""

from __future__ import annotations

import pytest

from stream.eventtime import iso_ts, parse_ts
from tests.stream.engine.kitchen_world import R3, R4, R5, context, creep, stand
from tests.stream.engine.world import D2, P1, R1, R2, Trace, run


def start(vehicle: str = "K1", at: str = "2025-06-01 09:00") -> Trace:
    return Trace(vehicle, at).stay(60)


# -- unsourced_delivery ---------------------------------------------------------------------------
def delivery_first(vehicle: str = "K1", **sensor):
    """Out of the depot straight to the plant: the vehicle's history starts with a delivery."""
    tr = start(vehicle).drive(*P1, kmh=30, **sensor).stay(300, **sensor)
    return tr.drive(*D2, **sensor).stay(60, **sensor).pings


def round_then(second_delivery: bool, collect_between: bool = False):
    """A collection at R1 delivered to P1; then, 20 minutes at the depot later, back to P1."""
    tr = start().drive(*R1, kmh=30).stay(300).drive(*P1).stay(300)
    tr.drive(*D2).stay(1200, every=120)
    if collect_between:
        tr.drive(*R1, kmh=30).stay(300)
    if second_delivery:
        tr.drive(*P1).stay(300)
    return tr.drive(*D2).stay(60).pings


UNSOURCED = {
    "start of history: a delivery before any collection": (delivery_first, ["unsourced_delivery"]),
    "oil vehicle, delivery first": (lambda: delivery_first("O1"), ["unsourced_delivery"]),
    "parked at the plant, reported empty throughout": (
        lambda: delivery_first(loaded="empty"),
        [],
    ),
    "collection then delivery": (lambda: round_then(False), []),
    "a second delivery, nothing collected since the first": (
        lambda: round_then(True),
        ["unsourced_delivery"],
    ),
    "a second delivery after a second collection": (lambda: round_then(True, True), []),
}


@pytest.mark.parametrize("name", list(UNSOURCED))
def test_unsourced_delivery(name):
    build, expected = UNSOURCED[name]
    assert run(build(), context()).types() == expected


def test_unsourced_delivery_evidence_names_the_plant_and_the_previous_delivery():
    outcome = run(round_then(True), context())
    (alert,) = outcome.of("unsourced_delivery")
    rounds = sorted(outcome.trips.values(), key=lambda r: r["start_ts"])
    first, lone = rounds[0], rounds[-1]
    assert first["status"] == "delivered" and lone["status"] == "no_collection"
    assert alert["fence"] == "P1" and alert["severity"] == "high"
    assert alert["ts"] == lone["start_ts"]  # the start of the delivery dwell
    evidence = alert["evidence"]
    assert evidence["last_delivery"] == first["delivered_ts"]
    assert isinstance(evidence["duration_s"], int) and 280 <= evidence["duration_s"] <= 330
    assert evidence["thresholds"]["dwell_s"] == 180


def test_unsourced_delivery_at_the_start_of_history_has_no_previous_delivery():
    (alert,) = run(delivery_first(), context()).of("unsourced_delivery")
    assert alert["evidence"]["last_delivery"] is None and alert["fence"] == "P1"


# -- poaching (抢收) -------------------------------------------------------------------------------
def collect_at(producer, vehicle: str = "K1"):
    tr = start(vehicle).drive(*producer, kmh=30).stay(300)
    return tr.drive(*P1).stay(300).drive(*D2).stay(60).pings


UC = ["unregistered_collection"]
POACHING = {
    "K1 at R3, on another company's contract": (lambda: collect_at(R3), UC),
    "K1 at R4, on its own company's other vehicle's contract": (lambda: collect_at(R4), []),
    "K1 at R5, on no contract": (lambda: collect_at(R5), []),
    "K1 at R1, its own contract (also on another company's)": (lambda: collect_at(R1), []),
    "J9 at R4, Lv Huan's producer": (lambda: collect_at(R4, "J9"), UC),
    "J9 at R1, on its own contract": (lambda: collect_at(R1, "J9"), []),
    "O1 at R3": (lambda: collect_at(R3, "O1"), UC),
}


@pytest.mark.parametrize("name", list(POACHING))
def test_poaching(name):
    build, expected = POACHING[name]
    assert run(build(), context()).types() == expected


def test_poaching_evidence_names_the_other_company_s_contract():
    outcome = run(collect_at(R3), context())
    (alert,) = outcome.of("unregistered_collection")
    (rnd,) = outcome.trips.values()
    assert alert["fence"] == "R3" and alert["ts"] == rnd["start_ts"]
    assert rnd["producers"] == ["R3"] and rnd["status"] == "delivered"  # still a collection
    evidence = alert["evidence"]
    assert evidence["contract"] == {"id": "C-J9", "vehicle": "J9", "company": "Jie Neng"}
    assert isinstance(evidence["duration_s"], int) and evidence["duration_s"] >= 180


# -- a stop in one place, not slow traffic ---------------------------------------------------------
def stop_or_jam(spell):
    tr = start().drive(*R2, kmh=30)
    spell(tr)
    return tr.drive(*P1, kmh=30).stay(60).pings


JAM = {
    "standing 3 min 10 s with GPS jitter 5-15 m": (
        lambda: stop_or_jam(lambda tr: stand(tr, 190)),
        ["unregistered_collection"],
    ),
    "creeping 4 min in a jam, 64 m, 1-8 km/h": (lambda: stop_or_jam(lambda tr: creep(tr)), []),
    "crawling 4 min in a jam, 300 m, 1-8 km/h": (
        lambda: stop_or_jam(lambda tr: creep(tr, 240, 300)),
        [],
    ),
    "jam, then standing 3 min 10 s": (
        lambda: stop_or_jam(lambda tr: stand(creep(tr), 190)),
        ["unregistered_collection"],
    ),
}


@pytest.mark.parametrize("name", list(JAM))
def test_a_collection_is_a_stop_in_one_place(name):
    build, expected = JAM[name]
    assert run(build(), context()).types() == expected


def test_unregistered_stop_evidence_says_how_long():
    pings = stop_or_jam(lambda tr: stand(tr, 300))
    (alert,) = run(pings, context()).of("unregistered_collection")
    duration = alert["evidence"]["duration_s"]
    assert isinstance(duration, int) and 285 <= duration <= 300
    assert alert["ended_ts"] is not None and "contract" not in alert["evidence"]


# -- undelivered_collection evidence ---------------------------------------------------------------
def test_undelivered_collection_evidence_lists_the_collections_and_their_times():
    tr = start().drive(*R1, kmh=30).stay(300).drive(*R4, kmh=20).stay(300)
    tr.drive(*D2).stay(7 * 3600, every=300)
    outcome = run(tr.pings, context())
    (alert,) = outcome.of("undelivered_collection")
    (rnd,) = outcome.trips.values()
    collections = alert["evidence"]["collections"]
    assert [c["fence"] for c in collections] == ["R1", "R4"]
    assert collections[0]["ts"] == rnd["start_ts"] == alert["ts"]
    assert collections[0]["ts"] < collections[1]["ts"]
    assert alert["evidence"]["deadline"] == iso_ts(parse_ts(rnd["start_ts"]) + 6 * 3600_000)
