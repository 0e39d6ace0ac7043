"""Vendor and city item profiles declared as data, so a city's standard is a file (issue 14).

A deployment describes the non-standard 0x0200 items of its terminals in JSON and loads them
into a :class:`~gateway.items.VendorTable`; no decoder code changes::

    {"profiles": [
      {"name": "wuxi-muck", "manufacturers": ["70111", "ZTWX1"],
       "items": {
         "0xF1": {"name": "lift_state", "size": 1, "kind": "code", "field": "lift", "true": [2]},
         "0xF2": {"name": "box_state", "size": 1, "kind": "code", "field": "cover_open",
                  "true": [2]},
         "0xF3": {"name": "weight", "size": 2, "kind": "scaled", "field": "weight_t",
                  "scale": 0.01},
         "0xE4": {"name": "muck_alarms", "size": 4, "kind": "bits",
                  "bits": {"cover_open": 0, "lift": 1}}}}]}

Kinds: ``bits`` (named flags at bit positions of the unsigned big-endian value), ``code`` (one
flag, true when the value is one of ``true``), ``scaled`` (the value times ``scale``). ``size``
is the item length in bytes, or a list of the lengths allowed.
"""

from __future__ import annotations

from typing import Any

from gateway.items import ItemSpec, VendorProfile, VendorTable, code_flag, flag_bits, scaled


def _item(where: str, d: Any) -> ItemSpec:
    if not isinstance(d, dict):
        raise ValueError(f"{where}: expected an object")
    name, kind, size = d.get("name"), d.get("kind"), d.get("size")
    sizes = tuple(size) if isinstance(size, list) else (size,)
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}.name: expected a non-empty string, got {name!r}")
    if not sizes or not all(isinstance(n, int) and 0 < n <= 255 for n in sizes):
        raise ValueError(f"{where}.size: expected 1..255 or a list of them, got {size!r}")
    try:
        if kind == "bits":
            bits = d["bits"]
            if not isinstance(bits, dict) or not all(
                isinstance(b, int) and 0 <= b < 8 * max(sizes) for b in bits.values()
            ):
                raise ValueError("bits: expected {field: bit position within the item}")
            return ItemSpec(name, flag_bits(**bits), sizes)
        if kind == "code":
            true = d["true"]
            if not isinstance(true, list) or not all(isinstance(v, int) for v in true):
                raise ValueError("true: expected a list of integers")
            return ItemSpec(name, code_flag(str(d["field"]), tuple(true)), sizes)
        if kind == "scaled":
            scale = d["scale"]
            if isinstance(scale, bool) or not isinstance(scale, int | float):
                raise ValueError("scale: expected a number")
            return ItemSpec(name, scaled(str(d["field"]), float(scale)), sizes)
    except KeyError as exc:
        raise ValueError(f"{where}: {kind} needs {exc.args[0]!r}") from None
    except ValueError as exc:
        raise ValueError(f"{where}.{exc}") from None
    raise ValueError(f"{where}.kind: expected bits, code or scaled, got {kind!r}")


def table_from_dict(doc: Any) -> VendorTable:
    """A :class:`VendorTable` from a document of the shape above.

    Raises
    ------
    ValueError
        Naming the place of the first problem (``profiles[0].items.0xF1.size: ...``).
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("profiles"), list):
        raise ValueError('expected {"profiles": [...]}')
    table = VendorTable()
    for i, p in enumerate(doc["profiles"]):
        where = f"profiles[{i}]"
        if not isinstance(p, dict) or not isinstance(p.get("name"), str):
            raise ValueError(f"{where}: expected an object with a name")
        makers = p.get("manufacturers")
        if (
            not isinstance(makers, list)
            or not makers
            or not all(isinstance(m, str) for m in makers)
        ):
            raise ValueError(f"{where}.manufacturers: expected a non-empty list of strings")
        items = {}
        for key, spec in (p.get("items") or {}).items():
            try:
                item_id = int(key, 0)
            except (TypeError, ValueError):
                item_id = -1
            if not 0 <= item_id <= 0xFF:
                raise ValueError(f"{where}.items: {key!r} is no item id (0x00..0xFF)")
            items[item_id] = _item(f"{where}.items.{key}", spec)
        profile = VendorProfile(p["name"], items)
        for maker in makers:
            table.register(maker, profile)
    return table
