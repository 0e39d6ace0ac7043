"""A two-district archive with one overspeed alert in each, for the CLI and REST tests (issue 12).

A muck truck of 梁溪 and one of 锡山 each drive 80 km/h (the muck default limit is 60) for two
minutes; ``landun detect --archive`` archives the run.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from landun.cli import main as landun
from tests.replay.archive_world import MIDNIGHT, at

LX, XS = "梁溪", "锡山"
VEHICLES = {"LX-1": (LX, 0.0), "XS-1": (XS, 3_000.0)}  # district, metres north of the centre
KMH = 80.0
SQUARE = ((0, 0), (0, 100), (100, 100), (100, 0), (0, 0))  # metres north, east


def _lnglat(north_m: float, east_m: float) -> list[float]:
    lat, lng = at(north_m, east_m)
    return [lng, lat]


def tiny_archive(folder: Path) -> tuple[Path, dict[str, dict]]:
    """Write the inputs into ``folder``, archive the run; ``(archive, alerts by vehicle)``."""
    folder.mkdir(parents=True, exist_ok=True)
    depot = {  # a fence file needs one; this depot lies 10 km south, far from both drives
        "type": "Feature",
        "id": "depot-south",
        "properties": {"kind": "depot", "name": "南郊停车场", "district": "滨湖"},
        "geometry": {
            "type": "Polygon",
            "coordinates": [[_lnglat(-10_000 + n, e) for n, e in SQUARE]],
        },
    }
    fences = {"type": "FeatureCollection", "features": [depot]}
    (folder / "fences.geojson").write_bytes(orjson.dumps(fences))
    vehicles = [
        {"id": v, "kind": "muck", "company": f"{d}渣土运输公司", "district": d,
         "terminal_phone": "013900000001", "plate": f"苏B{v}"}
        for v, (d, _) in VEHICLES.items()
    ]  # fmt: skip
    registry = {"vehicles": vehicles, "permits": [], "contracts": []}
    (folder / "registry.json").write_bytes(orjson.dumps(registry))
    lines = []
    for k in range(13):  # every 10 s for 2 minutes
        for vehicle, (_, north) in VEHICLES.items():
            lat, lng = at(north, KMH / 3.6 * 10 * k)
            ping = {"vehicle": vehicle, "ts": MIDNIGHT + 10_000 * k, "lat": lat, "lng": lng,
                    "speed_kmh": KMH, "received": MIDNIGHT + 10_000 * k + 500}  # fmt: skip
            lines.append(orjson.dumps(ping))
    (folder / "pings.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    archive = folder / "archive"
    out = folder / "alerts.jsonl"
    names = {"fences": "fences.geojson", "registry": "registry.json", "pings": "pings.jsonl"}
    inputs = [f"--{flag}={folder / name}" for flag, name in names.items()]
    assert landun(["detect", *inputs, f"--out={out}", f"--archive={archive}"]) == 0
    alerts = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    return archive, {a["vehicle"]: a for a in alerts}
