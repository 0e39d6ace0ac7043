"""The case list of a day and the dismissal reasons (issue 13): what the duty officer works
through, overdue cases flagged by the server clock. Moving a case is ``POST
/api/alerts/{id}/case`` (api/routes/alerts.py); the rules are ``api.cases``'."""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, HTTPException, Query, Request, status

from api import cases
from api.deps import CurrentUser, PortsDep, scope_district
from api.ports import AlertQuery, Record
from stream.eventtime import BEIJING, parse_ts

router = APIRouter(prefix="/api/cases", tags=["cases"])
DAY_MS = 86_400_000


def beijing_day(ms: int) -> date:
    """The Beijing calendar day of epoch ms ``ms``.

    >>> beijing_day(1748793600000 - 1), beijing_day(1748793600000)  # midnight 2025-06-02 +08
    (datetime.date(2025, 6, 1), datetime.date(2025, 6, 2))
    """
    return datetime.fromtimestamp(ms / 1000, BEIJING).date()


def day_span(day: date) -> tuple[int, int]:
    """``(first, last)`` epoch ms of a Beijing calendar day, inclusive.

    >>> day_span(date(2025, 6, 2))
    (1748793600000, 1748879999999)
    """
    start = int(datetime(day.year, day.month, day.day, tzinfo=BEIJING).timestamp() * 1000)
    return start, start + DAY_MS - 1


def _day(text: str | None, default_ms: int) -> date:
    if text is None:
        return beijing_day(default_ms)
    try:
        return date.fromisoformat(text) if len(text) == 10 else _bad_day(text)
    except ValueError:
        return _bad_day(text)


def _bad_day(text: str) -> date:
    raise HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT, f"day must be YYYY-MM-DD, got {text!r:.40}"
    )


def _now_ms(request: Request) -> int:
    return int(getattr(request.app.state, "clock", time.time)() * 1000)


def _today_ms(request: Request, ports, district: str | None) -> int:
    """The day a list without ``day`` shows: today in Beijing by the server clock; in the demo,
    the data's day (the simulated night is not today), that of the newest alert in scope."""
    now_ms = _now_ms(request)
    if request.app.state.settings.demo:
        newest = ports.alerts.query(AlertQuery(district=district, limit=1))
        if newest:
            return parse_ts(newest[0]["ts"])
    return now_ms


@router.get("")
def list_cases(
    who: CurrentUser,
    ports: PortsDep,
    request: Request,
    day: str | None = Query(None, description="YYYY-MM-DD, Beijing; default today"),
    state: cases.CaseState | None = None,
    type: str | None = None,
    district: str | None = None,
    overdue: Literal["true", "false"] | None = None,
    limit: int = Query(2000, ge=1, le=5000),
) -> list[Record]:
    """Cases of the alerts raised on a Beijing day in the caller's scope, newest first; each
    the alert with its ``case`` and ``overdue`` (dispatched, not handled, deadline passed by
    the server clock)."""
    scope = scope_district(who, district)
    now_ms = _now_ms(request)
    first, last = day_span(_day(day, _today_ms(request, ports, scope)))
    if overdue == "true":  # only a dispatched case can be overdue: ask the store for those
        if state not in (None, cases.CaseState.DISPATCHED):
            return []
        state = cases.CaseState.DISPATCHED
    query = AlertQuery(
        district=scope,
        type=type,
        state=state.value if state is not None else None,
        since_ms=first,
        until_ms=last,
        limit=limit,
    )
    rows = [{**a, "overdue": cases.overdue(a["case"], now_ms)} for a in ports.alerts.query(query)]
    if overdue is not None:
        rows = [r for r in rows if r["overdue"] is (overdue == "true")]
    return rows


@router.get("/reasons")
def dismissal_reasons(who: CurrentUser) -> list[dict[str, str]]:
    """The reasons a case may be dismissed for, in the order a form lists them."""
    return cases.reason_list()
