"""Checking ``registry.json`` entries (docs/formats.md; the format: ``stream.registry``).

Every entry is validated and all problems are reported together, each naming its entry, e.g.
``permits[3] (id 'P-7'): hours[0]: '25:00-06:00' is not HH:MM-HH:MM``. Given the fences (id ->
kind), every fence a permit or contract names must exist and be of a kind its field allows
(:data:`FENCE_FIELDS`), e.g. ``permits[0] (id 'P-1'): corridors: unknown fence 'C9'``: a permit
naming a corridor that does not exist would make every trip under it a ``route_deviation``
(issue 11), so such a registry is bad input, refused as a missing vehicle is.

The API checks an entry it is given alone (:func:`entry_problems`) and its fence references
against its stores (:func:`fence_problems`): one contract for files and API.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from geofence.model import TimeWindow
from stream.eventtime import BEIJING, parse_ts
from stream.registry_entries import VEHICLE_KINDS, Contract, Permit, Vehicle
from stream.wire_values import PingError, is_numeric, looks_like_epoch_seconds

_HOURS = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
# The fence kinds each reference field of a permit or contract may name (issue 11).
FENCE_FIELDS: dict[str, tuple[str, ...]] = {
    "site": ("site",),
    "terminals": ("terminal", "transfer"),
    "corridors": ("corridor",),
    "producers": ("producer",),
    "plants": ("plant",),
}


class RegistryError(ValueError):
    """The registry has problems; ``problems`` lists each as a message naming its entry."""

    def __init__(self, problems: list[str], source: str | None = None):
        self.problems = problems
        self.source = source
        n = len(problems)
        head = f"{source or 'registry'}: {n} problem{'s' if n != 1 else ''}"
        super().__init__("\n".join([head, *(f"  {p}" for p in problems)]))


def check_registry(
    data: Any, source: str | None = None, fences: Mapping[str, str] | None = None
) -> tuple[list[Vehicle], list[Permit], list[Contract]]:
    """The vehicles, permits and contracts of parsed ``registry.json``, each entry checked.

    Parameters
    ----------
    data : Any
        The parsed file.
    source : str, optional
        Where it came from (named in the error).
    fences : Mapping[str, str], optional
        Fence id -> kind of the fences it goes with; given, every fence reference is checked
        against them (:func:`fence_problems`).

    Raises
    ------
    RegistryError
        Listing every problem, each naming its entry (``permits[3] (id 'P-7'): ...``).
    """
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise RegistryError(
            ["top level: expected an object with vehicles/permits/contracts"], source
        )
    unknown = sorted(set(data) - {"vehicles", "permits", "contracts"})
    if unknown:
        problems.append(f"top level: unknown keys {unknown}")
    vehicles = _entries(data, "vehicles", _vehicle, problems)
    permits = _entries(data, "permits", _permit, problems)
    contracts = _entries(data, "contracts", _contract, problems)
    known = {v.id for _, v in vehicles}
    for label, p in permits:
        for vid in sorted(p.vehicles - known):
            problems.append(f"{label}: vehicles: unknown vehicle {vid!r}")
    for label, c in contracts:
        if c.vehicle not in known:
            problems.append(f"{label}: vehicle: unknown vehicle {c.vehicle!r}")
    if fences is not None:
        for label, entry in (*permits, *contracts):
            problems.extend(f"{label}: {m}" for m in fence_problems(entry.fence_refs(), fences))
    if problems:
        raise RegistryError(problems, source)
    return tuple([e for _, e in entries] for entries in (vehicles, permits, contracts))


def entry_problems(section: str, item: Mapping) -> list[str]:
    """What is wrong with one entry on its own, worded as :func:`check_registry` words it.

    Parameters
    ----------
    section : str
        ``vehicles``, ``permits`` or ``contracts``.
    item : Mapping
        The entry, as in ``registry.json``, with its ``id``.

    Returns
    -------
    list of str
        One message per problem (``valid_to: must be after valid_from``); empty when the entry
        is valid. The references to other entries (vehicles, fences) are not checked here: the
        API checks them against its stores (:func:`fence_problems`), one contract for both.
    """
    errors: list[str] = []
    _BUILDERS[section](item, errors)
    return errors


def entry_fence_refs(section: str, item: Mapping) -> dict[str, tuple[str, ...]]:
    """The fence ids a stored permit or contract names, by field (``Permit.fence_refs()``).

    Parameters
    ----------
    section : str
        ``permits`` or ``contracts``.
    item : Mapping
        The entry as in ``registry.json`` (a malformed reference field names no fence).

    Returns
    -------
    dict of str to tuple of str
        The fields of :data:`FENCE_FIELDS` the entry has, each with its fence ids.
    """
    return _BUILDERS[section]({**item, "id": item.get("id", "")}, []).fence_refs()


def fence_problems(refs: Mapping[str, Iterable[str]], fences: Mapping[str, str]) -> list[str]:
    """What is wrong with an entry's fence references.

    Parameters
    ----------
    refs : Mapping[str, Iterable[str]]
        Fence ids by field, the fields of :data:`FENCE_FIELDS` (``Permit.fence_refs()``).
    fences : Mapping[str, str]
        Fence id -> kind of the known fences.

    Returns
    -------
    list of str
        One message per bad reference naming the field and the fence, e.g.
        ``corridors: unknown fence 'C9'``, ``corridors: fence 'T1' is a terminal, not a
        corridor``; empty when all is well.
    """
    out = []
    for field, ids in refs.items():
        allowed = FENCE_FIELDS[field]
        for fid in ids:
            kind = fences.get(fid)
            if kind is None:
                out.append(f"{field}: unknown fence {fid!r}")
            elif kind not in allowed:
                out.append(f"{field}: fence {fid!r} is a {kind}, not a {' or '.join(allowed)}")
    return out


def _entries(data: Mapping, key: str, build, problems: list[str]) -> list[tuple[str, Any]]:
    """The valid entries of ``data[key]`` with their labels (``permits[3] (id 'P-7')``, the
    position in the file); the problems of the others go to ``problems``."""
    items = data.get(key, [])
    if not isinstance(items, list):
        problems.append(f"{key}: expected a list")
        return []
    out, seen = [], set()
    for i, item in enumerate(items):
        label = f"{key}[{i}]"
        if not isinstance(item, Mapping):
            problems.append(f"{label}: expected an object")
            continue
        ident = item.get("id")
        if not isinstance(ident, str) or not ident:
            problems.append(f"{label}: id: required non-empty string")
            continue
        label = f"{label} (id {ident!r})"
        if ident in seen:
            problems.append(f"{label}: duplicate id")
            continue
        seen.add(ident)
        errors: list[str] = []
        entry = build(item, errors)
        problems.extend(f"{label}: {e}" for e in errors)
        if not errors:
            out.append((label, entry))
    return out


def _text(item: Mapping, key: str, errors: list[str], required: bool = False) -> str:
    value = item.get(key)
    if value is None:
        if required:
            errors.append(f"{key}: required")
        return ""
    if not isinstance(value, str):
        errors.append(f"{key}: expected a string, got {value!r}")
        return ""
    if required and not value:
        errors.append(f"{key}: must not be empty")
    return value


def _ids(item: Mapping, key: str, errors: list[str]) -> tuple[str, ...]:
    value = item.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        errors.append(f"{key}: expected a list of ids, got {value!r}")
        return ()
    return tuple(value)


def _vehicle(item: Mapping, errors: list[str]) -> Vehicle:
    kind = item.get("kind")
    if kind not in VEHICLE_KINDS:
        errors.append(f"kind: expected one of {'|'.join(VEHICLE_KINDS)}, got {kind!r}")
    fields = ("company", "district", "terminal_phone", "plate")
    return Vehicle(item["id"], kind, *(_text(item, f, errors) for f in fields))


def _permit(item: Mapping, errors: list[str]) -> Permit:
    site = _text(item, "site", errors, required=True)
    vehicles = frozenset(_ids(item, "vehicles", errors))
    terminals = frozenset(_ids(item, "terminals", errors))
    corridors = _ids(item, "corridors", errors)
    valid_from = _moment(item.get("valid_from"), "valid_from", False, errors)
    valid_to = _moment(item.get("valid_to"), "valid_to", True, errors)
    if valid_from is not None and valid_to is not None and valid_to <= valid_from:
        errors.append("valid_to: must be after valid_from")
    hours = _hours(item.get("hours", []), errors)
    return Permit(item["id"], site, vehicles, terminals, corridors, valid_from, valid_to, hours)


def _contract(item: Mapping, errors: list[str]) -> Contract:
    vehicle = _text(item, "vehicle", errors, required=True)
    producers = frozenset(_ids(item, "producers", errors))
    plants = frozenset(_ids(item, "plants", errors))
    return Contract(item["id"], vehicle, producers, plants)


def _moment(value: Any, key: str, end_of_day: bool, errors: list[str]) -> int | None:
    """Epoch ms of an ISO date or date-time (Beijing time when it has no offset), or of epoch
    ms given as a number or a numeric string (``stream.eventtime.parse_ts``'s rule, issue 11)."""
    if value is None:
        return None
    # "1767225599000" is that number, as everywhere in landun; "20261231" stays what it was,
    # an ISO 8601 basic date.
    numeric = not isinstance(value, str) or (is_numeric(value) and len(value) != 8)
    if not numeric and len(value) == 10:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            errors.append(f"{key}: not an ISO 8601 date: {value!r}")
            return None
        if end_of_day:
            day += timedelta(days=1)
        midnight = datetime(day.year, day.month, day.day, tzinfo=BEIJING)
        return int(midnight.timestamp()) * 1000
    if not numeric:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            errors.append(f"{key}: not ISO 8601: {value!r}")
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=BEIJING)
        value = moment.isoformat()
    try:
        ms = parse_ts(value, key)
    except PingError as exc:
        errors.append(exc.detail)
        return None
    if numeric and looks_like_epoch_seconds(ms):
        # Read as milliseconds it is a date in 1970: a valid_to in seconds would expire the
        # permit then and make every load under it an unpermitted_load (issue 11).
        errors.append(f"{key}: {value!r} looks like epoch seconds; give ISO 8601 or epoch ms")
        return None
    return ms


def _hours(value: Any, errors: list[str]) -> tuple[TimeWindow, ...]:
    if not isinstance(value, list):
        errors.append(f'hours: expected a list of "HH:MM-HH:MM", got {value!r}')
        return ()
    windows = []
    for i, text in enumerate(value):
        match = _HOURS.match(text) if isinstance(text, str) else None
        if match is None:
            errors.append(f"hours[{i}]: {text!r} is not HH:MM-HH:MM")
            continue
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if m1 > 59 or m2 > 59 or start >= 1440 or end > 1440 or start == end:
            errors.append(f"hours[{i}]: {text!r} is not a valid window")
            continue
        windows.append(TimeWindow(start, end))
    return tuple(windows)


_BUILDERS = {"vehicles": _vehicle, "permits": _permit, "contracts": _contract}
