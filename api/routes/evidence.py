"""The evidence pack of an alert as a zip download (issue 12): ``GET
/api/replay/alerts/{alert_id}/evidence``.

The pack is built by ``replay.evidence.build_pack`` from the archive the other ``/api/replay``
routes read (``api.routes.replay.archive_dir``: ``app.state.archive_dir``, else
LANDUN_ARCHIVE_DIR), with the case audit trail from the API's alert store. Access as for the
alert itself (``/api/alerts/{id}``): a caller with a district gets the packs of alerts raised in
that district only (the district the API's alert store files it under, the archive's for an
alert the store does not hold); an alert not archived or out of scope is the same 404, so ids
leak nothing; no archive at all, or a damaged one, is a 503 as on the other replay routes.
"""

from __future__ import annotations

import io
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response

from api.deps import CurrentUser, PortsDep, not_found
from api.ids import id_path
from api.routes.replay import ArchiveRoute, archive_dir
from replay import queries
from replay.evidence import AlertNotArchived, build_pack
from replay.queries import ArchiveQueryError

router = APIRouter(prefix="/api/replay", tags=["replay"], route_class=ArchiveRoute)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # entries carry no build time: the manifest has it
FROM_STORE = "告警系统的案件记录 (the case as the API's alert store holds it)"
NOT_IN_STORE = "告警系统中没有该告警的案件记录 (the API's alert store holds no case for this alert)"


@router.get(
    "/alerts/{alert_id}/evidence",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}, "description": "the evidence pack"}},
)
def evidence_pack(
    alert_id: Annotated[str, id_path("alert")],
    who: CurrentUser,
    ports: PortsDep,
    request: Request,
) -> Response:
    """The alert's evidence pack (docs/formats.md, "Evidence pack") as ``evidence-{id}.zip``."""
    archive = archive_dir(request)
    try:
        alert = queries.alert(archive, alert_id)
    except ArchiveQueryError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    record = ports.alerts.get(alert_id)
    # Whose alert it is: the API's record when it holds one (a case may have been re-filed to
    # another district there), as every other /api/replay route decides; else the archive's.
    district = record.get("district") if record is not None else (alert or {}).get("district")
    if alert is None or not who.sees(district):
        raise not_found("alert", alert_id)
    case = record.get("case") if record is not None else None
    note = FROM_STORE if case else NOT_IN_STORE
    clock = getattr(request.app.state, "clock", time.time)
    with tempfile.TemporaryDirectory(prefix="landun-evidence-") as tmp:
        folder = Path(tmp) / f"evidence-{alert_id}"
        try:
            build_pack(
                archive, alert_id, folder, audit=case, audit_note=note,
                built_at_ms=int(clock() * 1000),
            )  # fmt: skip
        except AlertNotArchived:
            raise not_found("alert", alert_id) from None
        except ArchiveQueryError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
        body = _zip(folder)
    return Response(
        body,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="evidence-{alert_id}.zip"'},
    )


def _zip(folder: Path) -> bytes:
    """The pack's files under one top folder named like it, in name order."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            info = zipfile.ZipInfo(f"{folder.name}/{path.name}", ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if path.name.endswith(".sh") else 0o644) << 16
            archive.writestr(info, path.read_bytes())
    return out.getvalue()
