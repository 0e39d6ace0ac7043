"""Ports: the few operations the API needs from live state, alert storage, reference data and
the message bus. ``api.memory`` holds the in-memory twins (embedded demo, tests); the real
adapters must pass the same tests. The live read model's ports (``LiveStore``, ``Bus``,
``Subscription``, ``Record``, ``BBox``) live in ``stream.live.ports``, shared with the stream
workers, and are re-exported here.

Records are plain dicts in the shapes of the shared contracts. District scope is passed as
``district`` (None = the whole city); filtering by it is the store's job so that no caller can
forget it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

import orjson

from api.security import User
from stream.live.ports import BBox, Bus, LiveStore, Record, Subscription  # noqa: F401 - re-exported


@dataclass(frozen=True, slots=True)
class AlertQuery:
    """Alert filters; all optional."""

    district: str | None = None
    type: str | None = None
    state: str | None = None
    vehicle: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    limit: int = 200


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One change on the alert feed: a new or updated alert, or a case transition.

    ``seq`` increases by one per event, process- or cluster-wide; clients resume from it.
    """

    seq: int
    kind: str  # "alert" | "case"
    alert: Record


class AlertStore(Protocol):
    """Alerts with their case, and the ordered feed of their changes."""

    def put(self, alert: Record) -> AlertEvent | None:
        """Insert or update an alert by id (the case is kept); None when this version of it
        (:func:`alert_version`) was stored before, or when ``alert`` is an older version of the
        stored one (:func:`supersedes`). A new alert gets a case, ``open`` by ``system``."""

    def get(self, alert_id: str) -> Record | None:
        """One alert with its case."""

    def query(self, q: AlertQuery) -> list[Record]:
        """Alerts matching ``q``, newest event time first."""

    def transition(
        self, alert_id: str, to: str, by: str, at: str, note: str, form: Record | None = None
    ) -> AlertEvent:
        """Move the alert's case (``api.cases.transition`` rules, ``form`` its ``assignee``,
        ``deadline`` and ``reason``); KeyError if unknown. The case's ``assignee``,
        ``deadline`` and ``reason`` and each history entry's survive a restart."""

    def head(self) -> int:
        """The ``seq`` of the latest event (0 when there is none)."""

    def events_after(self, seq: int, limit: int) -> tuple[list[AlertEvent], bool]:
        """Events with ``seq`` greater than the given one, oldest first, and whether some that
        the caller needed are no longer kept (the caller must then reload the list)."""


class RecordStore(Protocol):
    """Reference records by id: fences (GeoJSON Features), vehicles, permits, contracts, trips."""

    def list(self) -> list[Record]:
        """Every record, ordered by id."""

    def get(self, record_id: str) -> Record | None:
        """One record."""

    def put(self, record: Record) -> None:
        """Insert or replace the record with ``record["id"]``."""

    def create(self, record: Record) -> bool:
        """Insert the record with ``record["id"]`` unless one exists (then change nothing and
        return False), atomically: of concurrent creates of one id exactly one returns True."""

    def delete(self, record_id: str) -> bool:
        """Remove a record; False if there was none."""


class UserStore(Protocol):
    """Accounts. Changing a password or disabling an account bumps the user's ``generation``;
    tokens carry the generation they were issued under, so older tokens stop working."""

    def get(self, username: str) -> User | None:
        """The user, or None."""

    def list(self) -> list[User]:
        """Every account, ordered by username."""

    def add(self, user: User) -> None:
        """Create an account; ``ValueError`` if the username is taken."""

    def set_password(self, username: str, password_hash: str) -> User:
        """Replace the password hash and bump the generation; ``KeyError`` if unknown."""

    def set_disabled(self, username: str, disabled: bool) -> User:
        """Disable (or re-enable) an account and bump the generation; ``KeyError`` if unknown."""


@dataclass(slots=True)
class Ports:
    """Everything the API talks to."""

    live: LiveStore
    alerts: AlertStore
    trips: RecordStore
    fences: RecordStore
    vehicles: RecordStore
    permits: RecordStore
    contracts: RecordStore
    bus: Bus
    users: UserStore


def supersedes(alert: Record, current: Record | None) -> bool:
    """Whether ``alert`` may replace ``current``, the stored version of the same id.

    The engine emits an alert when it is raised and again, with ``ended_ts``, once its end is
    known. Re-processing records after a crash, a rebalance or a replay emits the open version
    again after the ended one; it must not reopen the alert.

    Examples
    --------
    >>> opened = {"id": "a", "ended_ts": None}
    >>> ended = {"id": "a", "ended_ts": "2025-06-02T21:05:00+08:00"}
    >>> supersedes(opened, None), supersedes(ended, opened), supersedes(opened, ended)
    (True, True, False)
    """
    return current is None or not (current.get("ended_ts") and not alert.get("ended_ts"))


def alert_version(alert: Record) -> str:
    """The version of an alert: a hash of its content without its case (20 hex digits).

    The same content gives the same version whatever the order of its keys, so an alert
    re-delivered after a crash or a replay is recognised and stored once per ``(id, version)``.

    Examples
    --------
    >>> opened = {"id": "a", "ts": 1, "ended_ts": None}
    >>> alert_version(opened) == alert_version({"ended_ts": None, "ts": 1, "id": "a", "case": {}})
    True
    >>> ended = {**opened, "ended_ts": 2}
    >>> alert_version(opened) == alert_version(ended), len(alert_version(ended))
    (False, 20)
    """
    body = {k: v for k, v in alert.items() if k != "case"}
    digest = hashlib.blake2b(orjson.dumps(body, option=orjson.OPT_SORT_KEYS), digest_size=10)
    return digest.hexdigest()


class RecordRejected(ValueError):
    """The system of record refused a write (a constraint, a bad value): the request is wrong,
    not the service. The API answers 422 naming ``field``. Operator action: none; whoever sent
    the record must correct that field.
    """

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
