"""Which vehicle a terminal is: the registry's vehicles by ``terminal_phone`` (issue 14).

The gateway registers and authenticates only terminals the registry knows; an unknown phone is
refused (0x8100 result 4), never created. A vehicle entry of ``registry.json`` (docs/formats.md)
may carry, besides the fields the engine reads, what the gateway needs to know of its terminal:

- ``terminal_datum``: ``"gcj02"`` when the terminal reports GCJ-02 (converted to WGS-84 here);
  default ``"wgs84"``;
- ``load_sensor``: false when status bits 8-9 come from no sensor (``loaded`` is then left out,
  00 on every truck is no evidence of an empty body); default true;
- ``terminal_lenient``: true to accept the real-world quirks of docs/jt808.md from it;
- ``terminal_manufacturer``: the manufacturer id whose vendor profile reads its items, until the
  terminal's own registration (0x0100) names one.

The engine's registry validation ignores these keys, so the same file or topic serves both.
Phones are keyed as the codec keys them: digits with leading zeros stripped (a terminal moving
from a 12-digit 2013 number to a 20-digit 2019 one stays the same terminal).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import orjson

from gateway.items import VendorTable
from gateway.to_ping import Terminal

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Known:
    """One registered vehicle's terminal as the gateway needs it."""

    vehicle: str
    gcj02: bool = False
    load_sensor: bool = True
    lenient: bool = False
    manufacturer: str | None = None


def phone_key(phone: str) -> str:
    """The device key of a phone number: its digits without leading zeros.

    Examples
    --------
    >>> phone_key("013900000001")
    '13900000001'
    """
    return phone.strip().lstrip("0")


def known_of(entry: Mapping) -> tuple[str, Known] | None:
    """``(phone key, Known)`` of a registry vehicle entry, None when it names no terminal."""
    vid, phone = entry.get("id"), entry.get("terminal_phone")
    if not (isinstance(vid, str) and vid and isinstance(phone, str) and phone_key(phone)):
        return None
    maker = entry.get("terminal_manufacturer")
    return phone_key(phone), Known(
        vid,
        gcj02=entry.get("terminal_datum") == "gcj02",
        load_sensor=entry.get("load_sensor", True) is not False,
        lenient=entry.get("terminal_lenient") is True,
        manufacturer=maker if isinstance(maker, str) and maker else None,
    )


class Directory:
    """Registered terminals by phone key, and what registrations taught about them.

    Parameters
    ----------
    vendors : VendorTable, optional
        Manufacturer id -> profile reading the vendor's items (lift, cover, weight).
    """

    def __init__(self, vendors: VendorTable | None = None):
        self.vendors = vendors or VendorTable()
        self._known: dict[str, Known] = {}
        self._by_vehicle: dict[str, str] = {}  # vehicle id -> phone key (for removals)
        self._maker: dict[str, str] = {}  # phone key -> manufacturer id from its 0x0100

    @classmethod
    def from_mapping(cls, registry: Mapping, vendors: VendorTable | None = None) -> Directory:
        """A directory of a parsed ``registry.json``."""
        d = cls(vendors)
        d.load(registry)
        return d

    def load(self, registry: Mapping) -> None:
        """Replace every entry by the vehicles of a parsed ``registry.json``."""
        self._known.clear()
        self._by_vehicle.clear()
        for entry in registry.get("vehicles", []) if isinstance(registry, Mapping) else []:
            if isinstance(entry, Mapping):
                self.put(entry)

    def put(self, entry: Mapping) -> None:
        """Add or replace one vehicle entry."""
        vid = entry.get("id")
        if isinstance(vid, str):
            self.remove(vid)
        pair = known_of(entry)
        if pair is None:
            return
        key, known = pair
        other = self._known.get(key)
        if other is not None and other.vehicle != known.vehicle:
            log.warning("terminal %s: vehicles %s and %s; keeping %s", key, other.vehicle,
                        known.vehicle, known.vehicle)  # fmt: skip
            self._by_vehicle.pop(other.vehicle, None)
        self._known[key] = known
        self._by_vehicle[known.vehicle] = key

    def remove(self, vehicle: str) -> None:
        """Forget ``vehicle``'s terminal (a registry tombstone)."""
        key = self._by_vehicle.pop(vehicle, None)
        if key is not None and self._known.get(key, Known("")).vehicle == vehicle:
            del self._known[key]

    def apply_record(self, key: bytes | None, value: bytes | None) -> None:
        """One record of the ``{ns}.registry`` topic (``vehicles/<id>``; others are ignored)."""
        name = (key or b"").decode("utf-8", "replace")
        if not name.startswith("vehicles/"):
            return
        if value is None:
            self.remove(name.removeprefix("vehicles/"))
            return
        try:
            entry = orjson.loads(value)
        except orjson.JSONDecodeError:
            log.warning("registry record %s is not JSON: ignored", name)
            return
        if isinstance(entry, Mapping):
            self.put(entry)

    def learn_manufacturer(self, phone: str, manufacturer: str) -> None:
        """Remember the manufacturer id a terminal gave in its registration."""
        if manufacturer:
            self._maker[phone] = manufacturer

    def known(self, phone: str) -> Known | None:
        """The registered terminal of ``phone`` (a phone key), or None."""
        return self._known.get(phone)

    def terminal(self, phone: str) -> Terminal | None:
        """The codec's :class:`Terminal` for ``phone``, or None when the registry lacks it."""
        k = self._known.get(phone)
        if k is None:
            return None
        vendor = self.vendors.get(self._maker.get(phone) or k.manufacturer)
        return Terminal(k.vehicle, k.gcj02, k.load_sensor, vendor, k.lenient)

    def lenient(self, phone: str) -> bool:
        """The terminal's lenient switch (false for unknown terminals)."""
        k = self._known.get(phone)
        return k is not None and k.lenient

    def __len__(self) -> int:
        return len(self._known)
