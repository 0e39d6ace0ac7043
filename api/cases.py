"""The alert case: the city-management lifecycle 立案 → 派遣 → 处置 → 结案, plus 不予立案.

``open → dispatched → handled → closed``; ``open`` or ``dispatched`` may instead be ``dismissed``
with a reason. Every transition appends ``{state, by, at, note}`` to the history, plus what the
form gave (``assignee``, ``deadline``, ``reason``); nothing is ever edited or removed, so the
trail is evidence (办案全程留痕). Pure functions over plain dicts.

The forms (issue 13): dispatching names a team or officer and a deadline after now; handling and
closing say what was done (a note); dismissing gives a reason code (:data:`REASONS`), and the
reason ``other`` a note too. A transition the lifecycle forbids raises
:class:`CaseTransitionError` (the API's 409); a missing or invalid field :class:`CaseFormError`
(422). The case's ``assignee``, ``deadline`` and ``reason`` are the latest given in its history
(None until given), so a store need only keep the history.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from api.security import Role
from stream.eventtime import parse_ts


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
MAX_ASSIGNEE = 64  # a team or officer's name
FORM_FIELDS = ("assignee", "deadline", "reason")  # kept on the case and in its history entries

# Why a case is dismissed (不予立案): code -> (Chinese, English), in the order a form lists them.
REASONS: dict[str, tuple[str, str]] = {
    "false_alarm": ("误报", "False alarm"),
    "duplicate": ("重复告警", "Duplicate alert"),
    "authorised": ("已审批作业", "Authorised work"),
    "device_fault": ("设备故障", "Device fault"),
    "other": ("其他", "Other"),
}
# The fields a target state takes; any other given is refused (it would be kept in the trail).
TAKES: dict[CaseState, frozenset[str]] = {
    CaseState.DISPATCHED: frozenset({"assignee", "deadline"}),
    CaseState.DISMISSED: frozenset({"reason"}),
}


class CaseTransitionError(ValueError):
    """A transition the lifecycle does not allow (wrong order, final state, unknown state)."""


class CaseFormError(ValueError):
    """A field of a case form missing or invalid; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def reason_list() -> list[dict[str, str]]:
    """The dismissal reasons as a form lists them: ``[{"code", "zh", "en"}, ...]``."""
    return [{"code": code, "zh": zh, "en": en} for code, (zh, en) in REASONS.items()]


def new_case(at: str) -> dict[str, Any]:
    """A case freshly filed by the system at ``at`` (ISO time)."""
    entry = {"state": CaseState.OPEN.value, "by": "system", "at": at, "note": ""}
    return from_history([entry])


def from_history(history: list[dict[str, Any]]) -> dict[str, Any]:
    """The case its history describes: the last entry's state, and each form field as the
    latest entry that gave it (None when none did).

    >>> case = from_history([
    ...     {"state": "open", "by": "system", "at": "t0", "note": ""},
    ...     {"state": "dispatched", "by": "city", "at": "t1", "note": "", "assignee": "三中队",
    ...      "deadline": 1750003600000},
    ...     {"state": "handled", "by": "enforce", "at": "t2", "note": "已清理"},
    ... ])
    >>> case["state"], case["assignee"], case["deadline"], case["reason"]
    ('handled', '三中队', 1750003600000, None)
    """
    fields: dict[str, Any] = dict.fromkeys(FORM_FIELDS)
    for entry in history:
        fields.update({k: entry[k] for k in FORM_FIELDS if entry.get(k) is not None})
    copied = [dict(e) for e in history]
    return {"state": copied[-1]["state"], "history": copied, **fields}


def deadline_ms(value: Any) -> int | None:
    """A deadline as the form sends it (ISO 8601 with an offset, or epoch ms) in epoch ms;
    None when absent.

    >>> deadline_ms("2025-06-02T12:00:00+08:00"), deadline_ms(1748836800000), deadline_ms("")
    (1748836800000, 1748836800000, None)

    Raises
    ------
    CaseFormError
        Neither form, or a time without an offset (whose zone would be a guess).
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise CaseFormError("deadline", f"must be ISO 8601 with an offset or epoch ms, got {value}")
    try:
        return parse_ts(int(value) if isinstance(value, str) and value.isdecimal() else value)
    except (TypeError, ValueError) as exc:
        raise CaseFormError("deadline", str(exc)) from None


def overdue(case: Mapping[str, Any], now_ms: int) -> bool:
    """True when the case was dispatched, is not handled yet, and its deadline has passed.

    >>> overdue({"state": "dispatched", "deadline": 1000}, 1001)
    True
    >>> overdue({"state": "dispatched", "deadline": 1000}, 1000)
    False
    >>> overdue({"state": "handled", "deadline": 1000}, 5000)
    False
    """
    deadline = case.get("deadline")
    return (
        case.get("state") == CaseState.DISPATCHED.value
        and deadline is not None
        and deadline < now_ms
    )


def check_form(target: CaseState, at: str, note: str, form: Mapping[str, Any]) -> dict[str, Any]:
    """The form fields ``target`` requires, checked at ``at`` (ISO time or epoch ms: a deadline
    must be after it); returns those to keep (``assignee``, ``deadline`` in ms, ``reason``), the
    absent left out.

    Raises
    ------
    CaseFormError
        A required field missing, a field invalid, or a field the state does not take.
    """
    given = {k: v for k, v in form.items() if v is not None and v != ""}
    for name in sorted(set(given) - TAKES.get(target, frozenset())):
        if name not in FORM_FIELDS:
            raise CaseFormError(name, "unknown field")
        raise CaseFormError(name, f"not taken when the case is {target.value}")
    if len(note) > MAX_NOTE:
        raise CaseFormError("note", f"longer than {MAX_NOTE} characters")
    if target is CaseState.DISPATCHED:
        return _dispatch(parse_ts(at), given)
    if target in (CaseState.HANDLED, CaseState.CLOSED) and not note:
        raise CaseFormError("note", f"a case {target.value} needs a note saying what was done")
    if target is CaseState.DISMISSED:
        reason = given.get("reason")
        if reason not in REASONS:
            codes = ", ".join(REASONS)
            raise CaseFormError("reason", f"dismissing needs a reason, one of {codes}")
        if reason == "other" and not note:
            raise CaseFormError("note", "the reason 'other' needs a note saying what it is")
        return {"reason": reason}
    return {}


def _dispatch(at_ms: int, given: Mapping[str, Any]) -> dict[str, Any]:
    assignee = given.get("assignee")
    if not isinstance(assignee, str) or not assignee.strip():
        raise CaseFormError("assignee", "dispatching needs a team or officer")
    assignee = assignee.strip()
    if len(assignee) > MAX_ASSIGNEE:
        raise CaseFormError("assignee", f"longer than {MAX_ASSIGNEE} characters")
    due = deadline_ms(given.get("deadline"))
    if due is None:
        raise CaseFormError("deadline", "dispatching needs a deadline")
    if due <= at_ms:
        raise CaseFormError("deadline", "must be after now")
    return {"assignee": assignee, "deadline": due}


def may_act(role: Role, to: CaseState) -> bool:
    """True when ``role`` may move a case into state ``to``."""
    # A state nobody may set (``open``) is left to ``transition`` to refuse with its reason.
    return role in ACTORS.get(to, ANY_ACTOR)


def transition(
    case: dict[str, Any],
    to: str,
    by: str,
    at: str,
    note: str = "",
    form: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return a new case moved to ``to`` at ``at`` (ISO time, also the "now" a deadline must
    follow); the input is left untouched. ``form`` holds ``assignee``, ``deadline`` and
    ``reason`` as given (:func:`check_form` says which each state requires).

    Raises
    ------
    CaseTransitionError
        Unknown state, or a transition the lifecycle forbids (checked first).
    CaseFormError
        A field missing or invalid for the target state.
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
    kept = check_form(target, at, note, form or {})
    entry = {"state": target.value, "by": by, "at": at, "note": note, **kept}
    return from_history([*case["history"], entry])
