"""The registry behaviour is checked against: vehicles, disposal permits, collection contracts.

``registry.json`` (docs/formats.md) is
``{"vehicles": [...], "permits": [...], "contracts": [...]}``:

- vehicle: ``id``, ``kind`` (muck | kitchen | oil), ``company``, ``district``, ``terminal_phone``,
  ``plate``;
- permit (muck, 处置核准): ``id``, ``site`` (fence id), ``vehicles`` (vehicle ids), ``terminals``
  (terminal and transfer fence ids), ``corridors`` (corridor fence ids), ``valid_from``,
  ``valid_to`` (ISO 8601; a bare date means Beijing midnight, and ``valid_to`` then includes that
  whole day; a time without an offset is Beijing time), ``hours`` (``"HH:MM-HH:MM"`` windows when
  loads may leave, Beijing time; empty = any time);
- contract (kitchen/oil): ``id``, ``vehicle``, ``producers`` and ``plants`` (fence ids).

Each entry is checked and every problem reported together (``stream.registry_checks``); the
entries themselves are ``stream.registry_entries``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import orjson

from stream.registry_checks import RegistryError, check_registry
from stream.registry_entries import Contract, Permit, Vehicle


class Registry:
    """Vehicles, permits and contracts, indexed for the engine's look-ups."""

    def __init__(
        self,
        vehicles: Iterable[Vehicle] = (),
        permits: Iterable[Permit] = (),
        contracts: Iterable[Contract] = (),
    ):
        self.vehicles: dict[str, Vehicle] = {v.id: v for v in vehicles}
        self.permits: dict[str, Permit] = {p.id: p for p in permits}
        self.contracts: dict[str, Contract] = {c.id: c for c in contracts}
        self._by_vehicle: dict[str, list[Permit]] = {}
        for permit in sorted(self.permits.values(), key=lambda p: p.id):
            for vid in permit.vehicles:
                self._by_vehicle.setdefault(vid, []).append(permit)
        self._contracts_of: dict[str, list[Contract]] = {}
        for contract in sorted(self.contracts.values(), key=lambda c: c.id):
            self._contracts_of.setdefault(contract.vehicle, []).append(contract)

    def permits_of(self, vehicle: str) -> list[Permit]:
        """Permits naming ``vehicle``, sorted by id."""
        return self._by_vehicle.get(vehicle, [])

    def permit_for(self, vehicle: str, site: str, ts: int, any_hour: bool = False) -> Permit | None:
        """The first permit (by id) allowing ``vehicle`` to load at ``site`` at ``ts`` (with
        ``any_hour``, on that date whatever the hours), or None."""
        for permit in self._by_vehicle.get(vehicle, ()):
            if permit.allows(vehicle, site, ts, any_hour):
                return permit
        return None

    def contracts_of(self, vehicle: str) -> list[Contract]:
        """Collection contracts of ``vehicle``, sorted by id."""
        return self._contracts_of.get(vehicle, [])

    @classmethod
    def from_mapping(
        cls, data: Any, source: str | None = None, fences: Mapping[str, str] | None = None
    ) -> Registry:
        """Build a registry from parsed ``registry.json``: the vehicles, permits and contracts
        that `check_registry` returns, with its parameters and its `RegistryError` (documented
        there once, issue 13).

        See Also
        --------
        stream.registry_checks.check_registry
        """
        return cls(*check_registry(data, source, fences))

    @classmethod
    def load(cls, path: str | PathLike, fences: Mapping[str, str] | None = None) -> Registry:
        """Read and validate ``registry.json`` (against ``fences``, id -> kind, when given).

        Raises
        ------
        OSError
            When the file cannot be read.
        RegistryError
            When it is not JSON or has invalid entries.
        """
        text = Path(path).read_bytes()
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise RegistryError([f"not JSON: {exc}"], str(path)) from None
        return cls.from_mapping(data, str(path), fences)
