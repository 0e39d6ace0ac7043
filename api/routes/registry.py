"""Disposal permits (muck) and collection contracts (kitchen/oil). A district officer sees a
permit when its site or one of its vehicles is in the district, a contract when its vehicle is.

A permit or contract naming a fence that does not exist, or one of the wrong kind (a terminal as a
corridor), is refused with 422 naming the entry, the field and the fence (issue 11: a missing
corridor made every trip under the permit a ``route_deviation``): create the fences first. So is
one naming a vehicle that does not exist, and a permit whose dates ``registry.json`` would refuse
(``stream.registry_checks.entry_problems``: one contract for the file and the API; a bare date
is Beijing midnight, ``valid_to`` must be after ``valid_from``, epoch seconds are refused)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.deps import AdminUser, CurrentUser, PortsDep, not_found, vehicle_district
from api.ids import Id, id_path
from api.ports import Ports, Record
from api.security import Principal
from stream.registry_checks import entry_problems, fence_problems

router = APIRouter(prefix="/api", tags=["registry"])
HOURS_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$"
Ids = list[Id]
PermitId = Annotated[str, id_path("permit")]
FEW_FENCES = 32  # more references than this: one read of every fence instead of one get each
ContractId = Annotated[str, id_path("contract")]


class Permit(BaseModel):
    """处置核准 (shared contract ``registry.json``)."""

    model_config = ConfigDict(extra="forbid")
    id: Id
    site: Id
    vehicles: Ids = Field(default_factory=list, max_length=5000)
    terminals: Ids = Field(default_factory=list, max_length=500)
    corridors: Ids = Field(default_factory=list, max_length=500)
    valid_from: str  # checked by stream.registry_checks.entry_problems, as in registry.json
    valid_to: str
    hours: list[str] = Field(default_factory=list, max_length=24)

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: list[str]) -> list[str]:
        bad = [h for h in value if not re.match(HOURS_PATTERN, h)]
        if bad:
            raise ValueError(f"hours must look like 20:00-06:00, got {bad}")
        return value


class Contract(BaseModel):
    """Kitchen-waste or waste-oil collection contract."""

    model_config = ConfigDict(extra="forbid")
    id: Id
    vehicle: Id
    producers: Ids = Field(default_factory=list, max_length=5000)
    plants: Ids = Field(default_factory=list, max_length=100)


def permit_visible(who: Principal, ports: Ports, permit: Record) -> bool:
    if who.district is None:
        return True
    site = ports.fences.get(permit.get("site", ""))
    if site is not None and site.get("properties", {}).get("district") == who.district:
        return True
    return any(vehicle_district(ports, v) == who.district for v in permit.get("vehicles", ()))


def contract_visible(who: Principal, ports: Ports, contract: Record) -> bool:
    return who.sees(vehicle_district(ports, contract.get("vehicle", "")))


def check_entry(
    entry: str, record: Record, vehicles: list[str], refs: dict[str, list[str]], ports: Ports
) -> None:
    """422 naming ``entry`` (``permit``/``contract``), its id and every problem of ``record``:
    its own fields as ``registry.json`` checks them, each of ``vehicles`` that is not a
    registered vehicle, each fence of ``refs`` (field -> ids) that does not exist or is of a
    kind the field does not allow (``stream.registry_checks.FENCE_FIELDS``)."""
    problems = entry_problems(f"{entry}s", record)
    field = "vehicles" if entry == "permit" else "vehicle"
    problems += [
        f"{field}: unknown vehicle {v!r}" for v in vehicles if ports.vehicles.get(v) is None
    ]
    problems += _fence_problems(refs, ports)
    if problems:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "; ".join(f"{entry} {record['id']!r}: {p}" for p in problems),
        )


def _fence_problems(refs: dict[str, list[str]], ports: Ports) -> list[str]:
    wanted = {fid for ids in refs.values() for fid in ids}
    if len(wanted) <= FEW_FENCES:
        found = {fid: ports.fences.get(fid) for fid in wanted}
    else:
        found = {f.get("id"): f for f in ports.fences.list()}
    kinds = {
        fid: (f.get("properties") or {}).get("kind")
        for fid, f in found.items()
        if f is not None and fid in wanted
    }
    return fence_problems(refs, {fid: k for fid, k in kinds.items() if k})


def _check_id(body_id: str, url_id: str) -> None:
    if body_id != url_id:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"body id {body_id!r} differs from the URL's"
        )


@router.get("/permits", tags=["registry"])
def list_permits(who: CurrentUser, ports: PortsDep, site: str | None = None) -> list[Record]:
    """Permits in the caller's scope."""
    return [
        p
        for p in ports.permits.list()
        if permit_visible(who, ports, p) and (site is None or p.get("site") == site)
    ]


@router.get("/permits/{permit_id}")
def get_permit(permit_id: PermitId, who: CurrentUser, ports: PortsDep) -> Record:
    record = ports.permits.get(permit_id)
    if record is None or not permit_visible(who, ports, record):
        raise not_found("permit", permit_id)
    return record


@router.put("/permits/{permit_id}")
def put_permit(permit_id: PermitId, body: Permit, who: AdminUser, ports: PortsDep) -> Record:
    """Create or replace a permit (admin)."""
    _check_id(body.id, permit_id)
    refs = {"site": [body.site], "terminals": body.terminals, "corridors": body.corridors}
    record = body.model_dump()
    check_entry("permit", record, body.vehicles, refs, ports)
    ports.permits.put(record)
    return record


@router.delete("/permits/{permit_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_permit(permit_id: PermitId, who: AdminUser, ports: PortsDep) -> Response:
    if not ports.permits.delete(permit_id):
        raise not_found("permit", permit_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/contracts")
def list_contracts(who: CurrentUser, ports: PortsDep) -> list[Record]:
    """Contracts in the caller's scope."""
    return [c for c in ports.contracts.list() if contract_visible(who, ports, c)]


@router.get("/contracts/{contract_id}")
def get_contract(contract_id: ContractId, who: CurrentUser, ports: PortsDep) -> Record:
    record = ports.contracts.get(contract_id)
    if record is None or not contract_visible(who, ports, record):
        raise not_found("contract", contract_id)
    return record


@router.put("/contracts/{contract_id}")
def put_contract(
    contract_id: ContractId, body: Contract, who: AdminUser, ports: PortsDep
) -> Record:
    """Create or replace a contract (admin)."""
    _check_id(body.id, contract_id)
    record = body.model_dump()
    refs = {"producers": body.producers, "plants": body.plants}
    check_entry("contract", record, [body.vehicle], refs, ports)
    ports.contracts.put(record)
    return record


@router.delete("/contracts/{contract_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_contract(contract_id: ContractId, who: AdminUser, ports: PortsDep) -> Response:
    if not ports.contracts.delete(contract_id):
        raise not_found("contract", contract_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
