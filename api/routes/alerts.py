"""Alerts and their cases. Reads are scoped by district; transitions need a role allowed for the
target state and an alert inside the caller's scope (else 404, as if it did not exist)."""

from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from api import cases
from api.deps import CurrentUser, FeedDep, PortsDep, not_found, scope_district
from api.ports import AlertQuery, Record
from stream.eventtime import parse_ts, to_iso

router = APIRouter(prefix="/api/alerts", tags=["alerts"])


class CaseAction(BaseModel):
    """Move an alert's case: ``dispatched`` (``assignee`` and ``deadline`` required),
    ``handled`` or ``closed`` (a ``note`` required), ``dismissed`` (a ``reason`` code, and a
    note for ``other``). The rules are ``api.cases.check_form``'s (issue 13)."""

    model_config = ConfigDict(extra="forbid")
    state: cases.CaseState
    note: str = Field("", max_length=cases.MAX_NOTE)
    assignee: str | None = Field(None, max_length=1000)  # the rule (1-64) is api.cases'
    deadline: str | int | None = Field(None, description="ISO 8601 with offset, or epoch ms")
    reason: str | None = Field(None, max_length=100, description="GET /api/cases/reasons")

    def form(self) -> dict:
        """The form fields as ``api.cases.transition`` takes them."""
        return {"assignee": self.assignee, "deadline": self.deadline, "reason": self.reason}


def _time(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_ts(int(value) if value.isdecimal() else value)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name}: {exc}") from None


@router.get("")
def list_alerts(
    who: CurrentUser,
    ports: PortsDep,
    district: str | None = None,
    type: str | None = None,
    state: str | None = None,
    vehicle: str | None = None,
    since: str | None = Query(None, description="ISO 8601 with offset, or epoch ms"),
    until: str | None = Query(None, description="ISO 8601 with offset, or epoch ms"),
    limit: int = Query(200, ge=1, le=5000),
) -> list[Record]:
    """Alerts in scope, newest first."""
    query = AlertQuery(
        district=scope_district(who, district),
        type=type,
        state=state,
        vehicle=vehicle,
        since_ms=_time(since, "since"),
        until_ms=_time(until, "until"),
        limit=limit,
    )
    return ports.alerts.query(query)


@router.get("/{alert_id}")
def get_alert(alert_id: str, who: CurrentUser, ports: PortsDep) -> Record:
    """One alert with its evidence and case trail."""
    alert = ports.alerts.get(alert_id)
    if alert is None or not who.sees(alert.get("district")):
        raise not_found("alert", alert_id)
    return alert


@router.post("/{alert_id}/case")
def act_on_case(
    alert_id: str,
    body: CaseAction,
    who: CurrentUser,
    ports: PortsDep,
    feed: FeedDep,
    request: Request,
) -> Record:
    """Dispatch, handle, close or dismiss (with a reason) an alert's case: 409 when the
    lifecycle forbids it, 422 naming the field when the form lacks or spoils one."""
    alert = get_alert(alert_id, who, ports)
    if not cases.may_act(who.role, body.state):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {who.role} may not set {body.state}")
    clock = getattr(request.app.state, "clock", time.time)
    at = to_iso(int(clock() * 1000))
    try:
        event = ports.alerts.transition(
            alert["id"], body.state.value, who.username, at, body.note, body.form()
        )
    except cases.CaseTransitionError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except cases.CaseFormError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    feed.announce(event)
    return event.alert
