"""Fences as GeoJSON Features: everyone signed in reads them (they are the map's reference
layer, and corridors cross districts); only admins write. Writes are validated by the geofence
core's loader, after the id pattern (``api.ids``) and the size limits (``api.fence_limits``:
``fence_max_vertices``, ``fence_max_extent_km``); every message names the problem (422).

A fence a permit or contract names cannot be deleted, nor changed to a kind the naming field does
not allow (a corridor made a terminal): 409 naming each permit and contract and the field
(issue 11 review: a permit whose corridor is missing makes every trip under it a
``route_deviation``). Change or delete those first.

The drawn areas (``/api/fences/areas``) are built once per fence set and served from a cache
until the set changes (a digest of the stored features, so changes made through another API
replica or straight in the database are seen too)."""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, HTTPException, Request, Response, status
from shapely.geometry import mapping

from api.deps import AdminUser, CurrentUser, PortsDep, SettingsDep, not_found
from api.fence_limits import check_size
from api.ids import ID_RULE, id_path, is_id
from api.ports import Ports, Record
from geofence.loader import load_fences
from stream.registry_checks import entry_fence_refs, fence_problems

router = APIRouter(prefix="/api/fences", tags=["fences"])
log = logging.getLogger(__name__)
KINDS = ("site", "transfer", "terminal", "producer", "plant", "restricted", "depot", "corridor")
FeatureBody = Body(..., description="A GeoJSON Feature with id and properties.kind")
FenceId = Annotated[str, id_path("fence")]


def _invalid(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)


def validate_feature(feature: Any, settings, fence_id: str | None = None) -> Record:
    """Check a fence Feature against ``settings``' limits; returns it. Raises 422 naming the
    problem."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise _invalid("body must be a GeoJSON Feature")
    ident = feature.get("id", fence_id)
    if not is_id(ident):
        raise _invalid(f"feature id {ident!r} {ID_RULE}")
    if fence_id is not None and ident != fence_id:
        raise _invalid(f"feature id {ident!r} differs from the URL's {fence_id!r}")
    props = feature.get("properties")
    if not isinstance(props, dict) or props.get("kind") not in KINDS:
        got = props.get("kind") if isinstance(props, dict) else None
        raise _invalid(f"fence {ident!r}: properties.kind {got!r} is not one of {', '.join(KINDS)}")
    if not isinstance(feature.get("geometry"), dict):
        raise _invalid(f"fence {ident!r}: geometry missing")
    try:
        check_size(feature, settings.fence_max_vertices, settings.fence_max_extent_km)
    except ValueError as exc:
        raise _invalid(f"fence {ident!r}: {exc}") from None
    record = {**feature, "id": ident}
    # Issue 15: the loader is a hard dependency (it was looked up at run time and skipped when
    # missing, a leftover from before the geofence core landed).
    try:
        load_fences(_collection([record]))
    except (ValueError, TypeError, KeyError) as exc:
        raise _invalid(f"fence {ident!r}: {exc}") from None
    return record


def _collection(features: list[Record]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


@router.get("")
def list_fences(who: CurrentUser, ports: PortsDep, kind: str | None = None) -> dict[str, Any]:
    """All fences (optionally one kind) as a FeatureCollection, as they were written."""
    rows = ports.fences.list()
    return _collection([f for f in rows if kind is None or f["properties"].get("kind") == kind])


class AreasCache:
    """The serialised areas of the latest fence set, by the digest of its stored features."""

    def __init__(self) -> None:
        self.digest: str | None = None
        self.body = b""
        self.builds = 0
        self.lock = threading.Lock()  # one build at a time, however many requests wait

    def get(self, features: list[Record]) -> tuple[str, bytes]:
        """The digest of ``features`` and their areas' JSON, built only when they changed."""
        try:
            text = orjson.dumps(features, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
        except orjson.JSONEncodeError:  # a value orjson cannot write (a huge int): still a key
            text = repr(features).encode()
        digest = hashlib.blake2b(text, digest_size=16).hexdigest()
        with self.lock:
            if digest != self.digest:
                self.body = orjson.dumps(_areas(features))
                self.digest = digest
                self.builds += 1
            return self.digest, self.body


def _areas_cache(request: Request) -> AreasCache:
    cache = getattr(request.app.state, "fence_areas", None)
    if cache is None:
        cache = request.app.state.fence_areas = AreasCache()
    return cache


@router.get("/areas", response_class=Response)
def fence_areas(who: CurrentUser, ports: PortsDep, request: Request) -> Response:
    """The matched areas in WGS-84 (corridors buffered, datums converted) for drawing, as a
    FeatureCollection; its ``ETag`` answers ``If-None-Match`` with 304."""
    digest, body = _areas_cache(request).get(ports.fences.list())
    etag = f'"{digest}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
    return Response(body, media_type="application/json", headers={"ETag": etag})


def _areas(features: list[Record]) -> dict[str, Any]:
    if not features:
        return _collection(features)
    try:
        fences = load_fences(_collection(features))
    except (ValueError, TypeError, KeyError):
        # Reference data loaded in bulk was not checked fence by fence: draw what is valid.
        fences = []
        for feature in features:
            try:
                fences.extend(load_fences(_collection([feature])))
            except (ValueError, TypeError, KeyError) as exc:
                log.warning("fence %r not drawable: %s", feature.get("id"), exc)
    return _collection(
        [
            {
                "type": "Feature",
                "id": f.id,
                "geometry": mapping(f.area),
                "properties": {"kind": f.kind.value, "name": f.name, "district": f.district},
            }
            for f in fences
        ]
    )


@router.get("/{fence_id}")
def get_fence(fence_id: FenceId, who: CurrentUser, ports: PortsDep) -> dict[str, Any]:
    """One fence."""
    found = ports.fences.get(fence_id)
    if found is None:
        raise not_found("fence", fence_id)
    return found


@router.post("", status_code=status.HTTP_201_CREATED)
def create_fence(
    who: AdminUser, ports: PortsDep, settings: SettingsDep, feature: Any = FeatureBody
) -> dict[str, Any]:
    """Add a fence (admin); 409 if the id exists."""
    record = validate_feature(feature, settings)
    # One insert-only write, not a check then a put: of concurrent creates of one id, one wins.
    if not ports.fences.create(record):
        raise HTTPException(status.HTTP_409_CONFLICT, f"fence {record['id']!r} already exists")
    ports.bus.publish("reference", {"table": "fences", "op": "put", "record": record})
    return record


@router.put("/{fence_id}")
def replace_fence(
    fence_id: FenceId,
    who: AdminUser,
    ports: PortsDep,
    settings: SettingsDep,
    feature: Any = FeatureBody,
) -> dict[str, Any]:
    """Create or replace a fence (admin); 409 if it changes the kind of a fence a permit or
    contract names to one the naming field does not allow."""
    record = validate_feature(feature, settings, fence_id)
    current = ports.fences.get(fence_id)
    kind = record["properties"]["kind"]
    if current is not None and (current.get("properties") or {}).get("kind") != kind:
        problems = [
            f"{label}: {problem}"
            for label, refs in _naming(ports, fence_id)
            for problem in fence_problems(refs, {fence_id: kind})
        ]
        if problems:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"fence {fence_id!r} cannot become a {kind}: {'; '.join(problems)}",
            )
    ports.fences.put(record)
    ports.bus.publish("reference", {"table": "fences", "op": "put", "record": record})
    return record


@router.delete("/{fence_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_fence(fence_id: FenceId, who: AdminUser, ports: PortsDep) -> Response:
    """Remove a fence (admin); 409 naming the permits and contracts that name it."""
    naming = _naming(ports, fence_id)
    if naming:
        named = ", ".join(f"{label} ({', '.join(refs)})" for label, refs in naming)
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"fence {fence_id!r} is named by {named}: change or delete them first",
        )
    if not ports.fences.delete(fence_id):
        raise not_found("fence", fence_id)
    ports.bus.publish("reference", {"table": "fences", "op": "delete", "id": fence_id})
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _naming(ports: Ports, fence_id: str) -> list[tuple[str, dict[str, tuple[str, ...]]]]:
    """The permits and contracts naming ``fence_id``: their label (``permit 'P-2'``) and the
    fields naming it (``{"corridors": ("cor-1",)}``, the shape ``fence_problems`` takes)."""
    out = []
    for section, store in (("permits", ports.permits), ("contracts", ports.contracts)):
        for entry in store.list():
            refs = entry_fence_refs(section, entry)
            mine = {field: (fence_id,) for field, ids in refs.items() if fence_id in ids}
            if mine:
                out.append((f"{section[:-1]} {entry.get('id')!r}", mine))
    return out
