# ruff: noqa: E501 (the example profile reads best one item per line)
"""Vendor and city item profiles declared in JSON (gateway.vendors)."""

from __future__ import annotations

import json

import pytest

from gateway.items import named_extras
from gateway.location import decode
from gateway.to_ping import Terminal, to_ping
from gateway.vendors import table_from_dict
from tests.gateway.test_location import T0, body

CITY = {
    "profiles": [
        {
            "name": "wuxi-muck",
            "manufacturers": ["70111", "ZTWX1"],
            "items": {
                "0xF1": {"name": "lift_state", "size": 1, "kind": "code", "field": "lift", "true": [2]},
                "0xF2": {"name": "box_state", "size": 1, "kind": "code", "field": "cover_open", "true": [2]},
                "0xF3": {"name": "weight", "size": 2, "kind": "scaled", "field": "weight_t", "scale": 0.01},
                "0xE4": {"name": "muck_alarms", "size": [4], "kind": "bits", "bits": {"cover_open": 0, "lift": 1}},
            },
        }
    ]
}  # fmt: skip


def test_a_city_profile_from_json_reads_lift_cover_and_weight():
    table = table_from_dict(json.loads(json.dumps(CITY)))
    profile = table.get("ZTWX1")
    assert profile is table.get("70111") and profile.name == "wuxi-muck"
    loc = decode(body(items={0xF1: b"\x02", 0xF2: b"\x01", 0xF3: b"\x03\xe8"}))
    ping = to_ping(loc, Terminal("V", vendor=profile), 1, T0)
    assert (ping["lift"], ping["cover_open"]) == (True, False)
    extras = named_extras(loc.items, profile)
    assert extras["0xF3"] == {"name": "weight", "value": {"weight_t": 10.0}, "raw": "03e8"}
    bits = named_extras({0xE4: (0b01).to_bytes(4, "big")}, profile)["0xE4"]["value"]
    assert bits == {"cover_open": True, "lift": False}


def _broken(path, value):
    doc = json.loads(json.dumps(CITY))
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


F1 = ("profiles", 0, "items", "0xF1")


@pytest.mark.parametrize(
    "doc, where",
    [
        ([], "expected {"),
        (_broken(("profiles", 0, "manufacturers"), []), "profiles[0].manufacturers"),
        (_broken(("profiles", 0, "name"), KeyError), "profiles[0]"),
        (_broken(("profiles", 0, "items", "0x1FF"), {}), "'0x1FF' is no item id"),
        (_broken((*F1, "size"), 0), "profiles[0].items.0xF1.size"),
        (_broken((*F1, "kind"), "enum"), "profiles[0].items.0xF1.kind"),
        (_broken((*F1, "true"), KeyError), "profiles[0].items.0xF1: code needs 'true'"),
        (_broken((*F1, "true"), "2"), "profiles[0].items.0xF1.true"),
        (_broken(("profiles", 0, "items", "0xE4", "bits"), {"lift": 40}), "0xE4.bits"),
        (_broken(("profiles", 0, "items", "0xF3", "scale"), "0.01"), "0xF3.scale"),
    ],
)
def test_a_broken_profile_file_names_the_place(doc, where):
    with pytest.raises(ValueError) as info:
        table_from_dict(doc)
    assert where in str(info.value)
