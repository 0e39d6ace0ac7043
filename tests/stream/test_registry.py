"""The registry: validation names the entry; permits check vehicle, site, dates and hours."""

from __future__ import annotations

import json

import pytest

from stream.registry import Registry
from stream.registry_checks import RegistryError, entry_problems
from tests.stream.engine.world import bj, fences_geojson, registry_mapping


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
        # Epoch seconds, read as ms, expired the permit in 1970: every load unpermitted_load.
        (
            broken("permits", 0, valid_from=None, valid_to=1767225599),
            "permits[0] (id 'P-1'): valid_to: 1767225599 looks like epoch seconds",
        ),
        (
            broken("permits", 0, valid_from=1735660800),
            "permits[0] (id 'P-1'): valid_from: 1735660800 looks like epoch seconds",
        ),
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


def test_epoch_milliseconds_are_still_a_valid_time():
    reg = Registry.from_mapping(broken("permits", 0, valid_from=None, valid_to=1767225599000))
    assert reg.permits["P-1"].valid_to == 1767225599000


@pytest.mark.parametrize(
    ("value", "expect"),
    [
        ("1767225599000", 1767225599000),  # a numeric string is that number (parse_ts's rule)
        (" 1767225599000", None),  # not a number, not ISO 8601: refused
        ("1767225599000.0", 1767225599000),
        ("2026-12-31T23:59:59+08:00", 1798732799000),
        ("20261231", bj("2026-12-31 00:00")),  # an ISO 8601 basic date, as before
    ],
)
def test_a_time_as_a_numeric_string_is_that_number(value, expect):
    """Issue 11 review: ``valid_to: 1767225599000`` was taken and ``"1767225599000"`` refused
    as "not ISO 8601", where every other time landun reads takes a number sent as text."""
    data = broken("permits", 0, valid_from=None, valid_to=value)
    if expect is None:
        with pytest.raises(RegistryError):
            Registry.from_mapping(data)
    else:
        assert Registry.from_mapping(data).permits["P-1"].valid_to == expect
    assert entry_problems("permits", data["permits"][0]) == ([] if expect else [
        f"valid_to: not ISO 8601: {value!r}"
    ])  # fmt: skip


def test_epoch_seconds_as_a_numeric_string_are_named_as_such():
    with pytest.raises(RegistryError) as err:
        Registry.from_mapping(broken("permits", 0, valid_from=None, valid_to="1767225599"))
    assert "valid_to: '1767225599' looks like epoch seconds" in str(err.value)


@pytest.mark.parametrize(
    ("section", "change", "problems"),
    [
        ("permits", {}, []),
        ("permits", {"valid_to": "2024-01-01"}, ["valid_to: must be after valid_from"]),
        ("permits", {"hours": ["25:00-06:00"]}, ["hours[0]: '25:00-06:00' is not a valid window"]),
        ("contracts", {"producers": "R1"}, ["producers: expected a list of ids, got 'R1'"]),
        ("vehicles", {"kind": "truck"}, ["kind: expected one of muck|kitchen|oil, got 'truck'"]),
    ],
)
def test_entry_problems_are_those_the_file_would_have(section, change, problems):
    """One entry alone (the API's check), worded as the file's; references not checked."""
    item = {**registry_mapping()[section][0], **change}
    assert entry_problems(section, item) == problems
    if problems:
        with pytest.raises(RegistryError) as err:
            Registry.from_mapping(broken(section, 0, **change))
        assert all(any(p in q for q in err.value.problems) for p in problems)


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


# Fence references (issue 11): a permit naming a corridor that does not exist made every trip
# under it a route_deviation; now such a registry is refused, each problem naming the entry, the
# field and the fence, as an unknown vehicle is.
def kinds() -> dict[str, str]:
    return {f["id"]: f["properties"]["kind"] for f in fences_geojson()["features"]}


@pytest.mark.parametrize(
    ("section", "index", "change", "message"),
    [
        ("permits", 0, {"corridors": ["C1", "C9"]}, "corridors: unknown fence 'C9'"),
        ("permits", 0, {"site": "S9"}, "site: unknown fence 'S9'"),
        ("permits", 0, {"terminals": ["T1", "T7"]}, "terminals: unknown fence 'T7'"),
        ("contracts", 1, {"producers": ["R9"]}, "producers: unknown fence 'R9'"),
        ("contracts", 0, {"plants": ["P9"]}, "plants: unknown fence 'P9'"),
        # A fence of the wrong kind: a terminal named as a corridor, a depot as the site...
        (
            "permits",
            0,
            {"corridors": ["T1"]},
            "corridors: fence 'T1' is a terminal, not a corridor",
        ),
        ("permits", 0, {"site": "D1"}, "site: fence 'D1' is a depot, not a site"),
        (
            "permits",
            0,
            {"terminals": ["S1"]},
            "terminals: fence 'S1' is a site, not a terminal or transfer",
        ),
        ("contracts", 0, {"producers": ["P1"]}, "producers: fence 'P1' is a plant, not a producer"),
        ("contracts", 0, {"plants": ["R1"]}, "plants: fence 'R1' is a producer, not a plant"),
    ],
)
def test_fences_the_registry_names_must_exist_with_their_kind(section, index, change, message):
    data = broken(section, index, **change)
    with pytest.raises(RegistryError) as err:
        Registry.from_mapping(data, fences=kinds())
    label = f"{section}[{index}] (id {data[section][index]['id']!r})"
    assert err.value.problems == [f"{label}: {message}"]
    Registry.from_mapping(data)  # without fences nothing is checked against them


def test_the_test_world_names_only_its_fences():
    reg = Registry.from_mapping(registry_mapping(), fences=kinds())
    assert reg.permits["P-1"].fence_refs() == {
        "site": ("S1",),
        "terminals": ("T1", "W1"),
        "corridors": ("C1",),
    }


def test_fence_problems_come_with_the_others_and_name_the_entry_by_its_place():
    """An invalid entry before it does not shift the position an entry is named by."""
    data = registry_mapping()
    data["permits"].insert(0, {"id": "P-0", "site": "S1", "hours": ["nope"]})
    data["permits"][1]["corridors"] = ["C9"]
    data["permits"][1]["vehicles"] = ["M1", "Z9"]
    with pytest.raises(RegistryError) as err:
        Registry.from_mapping(data, "registry.json", fences=kinds())
    assert err.value.problems == [
        "permits[0] (id 'P-0'): hours[0]: 'nope' is not HH:MM-HH:MM",
        "permits[1] (id 'P-1'): vehicles: unknown vehicle 'Z9'",
        "permits[1] (id 'P-1'): corridors: unknown fence 'C9'",
    ]
    assert str(err.value).startswith("registry.json: 3 problems")


def test_load_checks_the_fences_given(tmp_path):
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(broken("permits", 0, corridors=["C9"])), encoding="utf-8")
    with pytest.raises(RegistryError, match="corridors: unknown fence 'C9'") as err:
        Registry.load(path, fences=kinds())
    assert err.value.source == str(path)
