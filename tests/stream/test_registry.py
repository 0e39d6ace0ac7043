"""The registry: validation names the entry; permits check vehicle, site, dates and hours."""

from __future__ import annotations

import json

import pytest

from stream.registry import Registry, RegistryError
from tests.stream.engine.world import bj, registry_mapping


def test_loads_the_test_world():
    reg = Registry.from_mapping(registry_mapping())
    assert reg.vehicles["M1"].kind == "muck" and reg.vehicles["M1"].plate == "苏B·00001"
    assert [p.id for p in reg.permits_of("M1")] == ["P-1"]
    assert reg.permits_of("M2") == []
    assert [c.id for c in reg.contracts_of("K1")] == ["C-K1"]
    assert reg.permits["P-1"].terminals == frozenset({"T1", "W1"})


@pytest.mark.parametrize(
    ("when", "vehicle", "site", "allowed"),
    [
        ("2025-06-01 21:00", "M1", "S1", True),
        ("2025-06-01 05:59", "M1", "S1", True),  # the window wraps midnight
        ("2025-06-01 06:00", "M1", "S1", False),  # end exclusive
        ("2025-06-01 14:00", "M1", "S1", False),
        ("2025-06-01 21:00", "M2", "S1", False),
        ("2025-06-01 21:00", "M1", "S9", False),
        ("2024-12-31 23:00", "M1", "S1", False),  # before valid_from
        ("2025-12-31 23:59", "M1", "S1", True),  # valid_to is a whole day
        ("2026-01-01 00:00", "M1", "S1", False),
    ],
)
def test_permit_for(when, vehicle, site, allowed):
    reg = Registry.from_mapping(registry_mapping())
    assert (reg.permit_for(vehicle, site, bj(when)) is not None) is allowed


def broken(section: str, index: int, **change) -> dict:
    data = registry_mapping()
    data[section][index] = {**data[section][index], **change}
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (broken("vehicles", 1, kind="truck"), "vehicles[1] (id 'M2'): kind"),
        (broken("vehicles", 1, id="M1"), "vehicles[1] (id 'M1'): duplicate id"),
        (broken("vehicles", 0, plate=5), "vehicles[0] (id 'M1'): plate"),
        (broken("permits", 0, hours=["25:00-06:00"]), "permits[0] (id 'P-1'): hours[0]"),
        (broken("permits", 0, hours="20:00-06:00"), "permits[0] (id 'P-1'): hours"),
        (broken("permits", 0, valid_from="June"), "permits[0] (id 'P-1'): valid_from"),
        (broken("permits", 0, valid_to="2024-01-01"), "valid_to: must be after valid_from"),
        (broken("permits", 0, vehicles=["M1", "Z9"]), "unknown vehicle 'Z9'"),
        (broken("permits", 0, site=""), "permits[0] (id 'P-1'): site"),
        (broken("contracts", 0, vehicle="Z9"), "contracts[0] (id 'C-K1'): vehicle"),
        (broken("contracts", 0, producers="R1"), "contracts[0] (id 'C-K1'): producers"),
        ({**registry_mapping(), "drivers": []}, "unknown keys ['drivers']"),
        ([], "top level"),
    ],
)
def test_problems_name_the_entry(data, message):
    with pytest.raises(RegistryError) as err:
        Registry.from_mapping(data)
    assert message in str(err.value)


def test_all_problems_are_reported_together():
    data = broken("vehicles", 1, kind="truck")
    data["permits"][0]["hours"] = ["nope"]
    with pytest.raises(RegistryError) as err:
        Registry.from_mapping(data)
    assert len(err.value.problems) == 2
    assert str(err.value).startswith("registry: 2 problems")


def test_load_from_file(tmp_path):
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(registry_mapping()), encoding="utf-8")
    assert set(Registry.load(path).vehicles) == {"M1", "M2", "K1", "O1"}
    path.write_text("{", encoding="utf-8")
    with pytest.raises(RegistryError, match="not JSON"):
        Registry.load(path)
    with pytest.raises(OSError):
        Registry.load(tmp_path / "missing.json")


def test_fence_references():
    refs = Registry.from_mapping(registry_mapping()).fence_ids()
    assert refs["S1"] == "permit 'P-1'" and refs["R1"] == "contract 'C-K1'"
