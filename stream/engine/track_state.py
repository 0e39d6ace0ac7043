"""The engine's state of one track, a stream of accepted pings (the live stream or a blind-area
backfill segment): its fence visits, its current stop, the rule episodes under way and its
recent pings. Plain data, serialisable like the rest of ``stream.engine.state``.

Part of the checkpoint: ``X.from_dict(x.to_dict()) == x`` (``from_list``/``to_list`` for the
small records), also after a trip through JSON, and the bytes of a checkpoint do not change
with the module a class lives in.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from stream.ping import Ping

PENDING, IRRELEVANT, ACTED = 0, 1, 2  # values of Visit.done
NEVER = 1 << 62  # a time that never comes


@dataclass(slots=True)
class Visit:
    """A track's visit of one fence (``Track.visits`` values), from entry to confirmed exit.

    Checkpointed as a 14-slot list in field order (:meth:`to_list`), as it was before it had a
    type (issue 11): the checkpoint bytes did not change.
    """

    enter: int  # ts of the first ping inside
    out: int = -1  # ts of the first ping seen outside again, -1 while inside
    outn: int = 0  # pings outside since ``out``
    slow: int = -1  # start of the current slow spell inside, -1 if none
    done: int = PENDING  # the dwell: PENDING, IRRELEVANT for this vehicle kind, or ACTED on
    seq: int | None = None  # first ping of the slow spell (with lat, lng)
    lat: float = 0.0
    lng: float = 0.0
    prev: int = -1  # ts of the track's ping before the visit
    oseq: int | None = None  # first ping outside (with olat, olng)
    olat: float = 0.0
    olng: float = 0.0
    loaded: bool = True  # not reported empty during the visit
    emptied: bool = True  # not reported half or full during the visit

    def to_list(self) -> list:
        return [
            self.enter,
            self.out,
            self.outn,
            self.slow,
            self.done,
            self.seq,
            self.lat,
            self.lng,
            self.prev,
            self.oseq,
            self.olat,
            self.olng,
            self.loaded,
            self.emptied,
        ]

    @classmethod
    def from_list(cls, v: list) -> Visit:
        # Visits saved before ``emptied`` existed: an unload counts, as it did then.
        return cls(*v, *[True] * (_VISIT_LEN - len(v)))


_VISIT_LEN = 14


@dataclass(slots=True)
class LoggedVisit:
    """A dwell acted on (``VehicleState.visit_log``), to recognise the same visit seen by two
    tracks (``places.same_visit``). Checkpointed as ``[fence, start, seen, prev, group]``."""

    fence: str
    start: int  # start of the dwell's slow spell
    seen: int  # last time the vehicle was known to be on the visit
    prev: int  # ts of the track's ping before the visit
    group: int  # the kind group acted on (places._GROUPS: load, unload, collect, deliver)

    def to_list(self) -> list:
        return [self.fence, self.start, self.seen, self.prev, self.group]

    @classmethod
    def from_list(cls, v: list) -> LoggedVisit:
        return cls(*v)


@dataclass(slots=True)
class Episode:
    """A run of pings breaking one rule (overspeed, deviation, open cover), from its first ping."""

    seq: int | None
    ts: int
    lat: float
    lng: float
    alert: str | None = None  # id of the alert raised for it, once it is sustained long enough
    peak: float = 0.0  # e.g. the highest speed seen
    last: int = -1  # ts of its latest breaking ping
    total: float = 0.0  # sum of the magnitudes of its pings (their mean for the evidence)
    n: int = 0  # its breaking pings
    ref: str | None = None  # what the magnitude is measured against (a corridor id)

    def to_list(self) -> list:
        return [
            self.seq,
            self.ts,
            self.lat,
            self.lng,
            self.alert,
            self.peak,
            self.last,
            self.total,
            self.n,
            self.ref,
        ]

    @classmethod
    def from_list(cls, v: list | None) -> Episode | None:
        return None if v is None else cls(*v)


@dataclass(slots=True)
class Stop:
    """A stationary run: where and when the vehicle stopped, and what the stop touched."""

    seq: int | None
    ts: int
    lat: float
    lng: float
    last: int  # ts of the last ping of the stop
    mask: int = 0  # kinds of places touched by any ping of the stop (see context.KIND_BIT)
    loaded: bool = False  # loaded at any ping of the stop
    flags: int = 0  # rules already fired for this stop
    # Kitchen/oil stops only (issue 11, a stop in one place; see stops.in_one_place): fixes
    # averaged into the anchor so far (0: not tracked, a muck stop or an older checkpoint's),
    # the anchor, and the running average of the latest fixes.
    n: int = 0
    alat: float = 0.0
    alng: float = 0.0
    elat: float = 0.0
    elng: float = 0.0

    def to_list(self) -> list:
        out = [
            self.seq,
            self.ts,
            self.lat,
            self.lng,
            self.last,
            self.mask,
            self.loaded,
            self.flags,
        ]
        if self.n:  # written only when tracked: older checkpoints load (their stops untracked)
            out += [self.n, self.alat, self.alng, self.elat, self.elng]
        return out

    @classmethod
    def from_list(cls, v: list | None) -> Stop | None:
        return None if v is None else cls(*v)


@dataclass(slots=True)
class Track:
    """One ordered stream of accepted pings: the live stream or a blind-area backfill segment.

    ``visits`` maps fence id to its :class:`Visit`.
    """

    tag: str = ""  # suffix of the keys of this track's open alerts ("" live, ":shadow" backfill)
    last_ts: int = -1
    lat: float = 0.0
    lng: float = 0.0
    seq: int | None = None
    ids: tuple[str, ...] = ()
    visits: dict[str, Visit] = field(default_factory=dict)
    exiting: int = 0  # visits with an exit pending
    dwelling: int = 0  # visits whose dwell is PENDING
    vmask: int = 0  # kinds of the fences visited (exits pending included)
    stop: Stop | None = None
    over: Episode | None = None
    dev: Episode | None = None
    unc: Episode | None = None
    restricted: dict[str, str] = field(default_factory=dict)  # fence id -> alert id ("" = none)
    recent: list[Ping] = field(default_factory=list)  # the track's last pings, for evidence
    jump: list | None = None  # [ts, lat, lng, n] of consecutive rejected jumps
    # A backfill segment: event time of the first live ping after its start (a later backfill
    # ping belongs to another blind area); NEVER on the live track.
    until: int = NEVER

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["ids"] = list(self.ids)
        out["visits"] = {k: v.to_list() for k, v in self.visits.items()}
        for name in ("stop", "over", "dev", "unc"):
            value = getattr(self, name)
            out[name] = None if value is None else value.to_list()
        out["restricted"] = dict(self.restricted)
        # A recent ping's warnings (a 5th item, only when it has some: the bytes of a state
        # without any are unchanged) are in its alerts' evidence: kept so that a resumed run
        # gives the same evidence (issue 11).
        out["recent"] = [
            [r.seq, r.ts, r.lat, r.lng] if r.warnings is None else _warned(r) for r in self.recent
        ]
        out["jump"] = None if self.jump is None else list(self.jump)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Track:
        t = cls(**{k: v for k, v in d.items() if k in _TRACK_PLAIN})
        t.ids = tuple(d["ids"])
        t.visits = {k: Visit.from_list(v) for k, v in d["visits"].items()}
        t.stop = Stop.from_list(d["stop"])
        t.over, t.dev, t.unc = (Episode.from_list(d[n]) for n in ("over", "dev", "unc"))
        t.restricted = dict(d["restricted"])
        t.recent = [
            Ping("", r[1], r[2], r[3], seq=r[0], warnings=tuple(r[4]) if len(r) > 4 else None)
            for r in d["recent"]
        ]
        t.jump = None if d["jump"] is None else list(d["jump"])
        return t


def _warned(r: Ping) -> list:
    return [r.seq, r.ts, r.lat, r.lng, list(r.warnings or ())]


_TRACK_NESTED = frozenset(
    ("ids", "visits", "stop", "over", "dev", "unc", "restricted", "recent", "jump")
)
# Plain fields, set as stored (keys of fields no longer kept, like "loaded", are ignored).
_TRACK_PLAIN = frozenset(f.name for f in fields(Track)) - _TRACK_NESTED
