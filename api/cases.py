"""The alert case: the city-management lifecycle 立案 → 派遣 → 处置 → 结案, plus 不予立案.

``open → dispatched → handled → closed``; ``open`` or ``dispatched`` may instead be ``dismissed``
with a reason. Every transition appends ``{state, by, at, note}`` to the history; nothing is ever
edited or removed, so the trail is evidence (办案全程留痕). Pure functions over plain dicts.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from api.security import Role


class CaseState(StrEnum):
    """States of an alert case."""

    OPEN = "open"  # 立案
    DISPATCHED = "dispatched"  # 派遣
    HANDLED = "handled"  # 处置
    CLOSED = "closed"  # 结案
    DISMISSED = "dismissed"  # 不予立案 / 误报


NEXT_STATES: dict[CaseState, frozenset[CaseState]] = {
    CaseState.OPEN: frozenset({CaseState.DISPATCHED, CaseState.DISMISSED}),
    CaseState.DISPATCHED: frozenset({CaseState.HANDLED, CaseState.DISMISSED}),
    CaseState.HANDLED: frozenset({CaseState.CLOSED}),
    CaseState.CLOSED: frozenset(),
    CaseState.DISMISSED: frozenset(),
}

# Who may move a case into each state. Dismissing is a supervisor's call, handling the field's.
ACTORS: dict[CaseState, frozenset[Role]] = {
    CaseState.DISPATCHED: frozenset({Role.ADMIN, Role.CITY, Role.DISTRICT, Role.ENFORCEMENT}),
    CaseState.HANDLED: frozenset({Role.ADMIN, Role.DISTRICT, Role.ENFORCEMENT}),
    CaseState.CLOSED: frozenset({Role.ADMIN, Role.CITY, Role.DISTRICT, Role.ENFORCEMENT}),
    CaseState.DISMISSED: frozenset({Role.ADMIN, Role.CITY, Role.DISTRICT}),
}

ANY_ACTOR = frozenset().union(*ACTORS.values())
MAX_NOTE = 2000


class CaseTransitionError(ValueError):
    """A transition the lifecycle does not allow (wrong order, final state, missing reason)."""


def new_case(at: str) -> dict[str, Any]:
    """A case freshly filed by the system at ``at`` (ISO time)."""
    entry = {"state": CaseState.OPEN.value, "by": "system", "at": at, "note": ""}
    return {"state": CaseState.OPEN.value, "history": [entry]}


def may_act(role: Role, to: CaseState) -> bool:
    """True when ``role`` may move a case into state ``to``."""
    # A state nobody may set (``open``) is left to ``transition`` to refuse with its reason.
    return role in ACTORS.get(to, ANY_ACTOR)


def transition(case: dict[str, Any], to: str, by: str, at: str, note: str = "") -> dict[str, Any]:
    """Return a new case moved to ``to``; the input is left untouched.

    Raises
    ------
    CaseTransitionError
        Unknown state, a transition the lifecycle forbids, a dismissal without a reason or an
        over-long note.
    """
    try:
        target = CaseState(to)
    except ValueError:
        names = ", ".join(s.value for s in CaseState)
        raise CaseTransitionError(f"unknown case state {to!r}; states are {names}") from None
    current = CaseState(case["state"])
    if target not in NEXT_STATES[current]:
        allowed = ", ".join(sorted(s.value for s in NEXT_STATES[current])) or "none (final)"
        raise CaseTransitionError(f"cannot go from {current} to {target}; allowed: {allowed}")
    note = (note or "").strip()
    if target is CaseState.DISMISSED and not note:
        raise CaseTransitionError("dismissing a case needs a reason in the note")
    if len(note) > MAX_NOTE:
        raise CaseTransitionError(f"note longer than {MAX_NOTE} characters")
    entry = {"state": target.value, "by": by, "at": at, "note": note}
    return {"state": target.value, "history": [*(dict(e) for e in case["history"]), entry]}
