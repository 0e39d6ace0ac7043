"""Per-vehicle engine state: plain data, serialisable to a JSON-ready dict and back.

It is meant to live in a key-value table keyed by vehicle (a Faust table). Everything in it is
ints, floats, strings, bools, lists and dicts of those, or the small dataclasses below; fence
sets are stored as their id tuples. ``X.from_dict(x.to_dict()) == x`` for every class here, also
after a trip through JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from stream.engine.config import Thresholds
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


@dataclass(slots=True)
class Trip:
    """A muck load in progress or done (one electronic manifest, 电子联单)."""

    id: str
    site: str
    permit: str | None
    load_ts: int  # start of the load dwell
    load_seq: int | None = None
    lat: float = 0.0
    lng: float = 0.0
    departed: int = -1  # first ping outside the site after loading
    dep_seq: int | None = None
    dep_lat: float = 0.0
    dep_lng: float = 0.0
    unload_fence: str | None = None
    unload_ts: int = -1
    status: str = "open"  # open | delivered | unapproved | unmatched
    overdue: bool = False  # unmatched_source raised; still matched to a later unload
    late: bool = False  # found from backfilled data
    due: int = NEVER  # when the deadline check next has something to do
    ended: int = NEVER  # when it stopped being the vehicle's trip (unload dwell start, close)
    # Start of a suspected dump on this trip (-1: none): a truck without a load sensor counts
    # as empty from then on (issue 11), though the trip stays open (the load never arrived).
    dumped: int = -1
    # The load sensor's value when the tipper unloaded it (issue 11): a sensor stuck there, not
    # a load, until it reports anything else.
    stuck: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        # Written only when set (issue 11): other trips' checkpoint bytes stay as they were.
        if self.dumped < 0:
            del out["dumped"]
        if self.stuck is None:
            del out["stuck"]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Trip | None:
        return None if d is None else cls(**d)


@dataclass(slots=True)
class Round:
    """A kitchen-waste or waste-oil collection round: collections at producers, then a plant."""

    id: str
    start: int  # start of the first collection dwell
    seq: int | None
    lat: float
    lng: float
    producers: list[str] = field(default_factory=list)
    collections: list[list] = field(default_factory=list)  # [producer, dwell start] each
    plant: str | None = None
    delivered: int = -1
    status: str = "open"  # open | delivered | undelivered | no_collection
    overdue: bool = False
    late: bool = False
    due: int = NEVER  # when the deadline check next has something to do

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["producers"] = list(self.producers)
        del out["collections"]
        if self.collections:  # written only when there are: checkpoint bytes stay as they were
            out["collections"] = [list(c) for c in self.collections]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Round | None:
        if d is None:
            return None
        collections = [list(c) for c in d.get("collections", ())]
        return cls(**{**d, "producers": list(d["producers"]), "collections": collections})


@dataclass(slots=True)
class VehicleState:
    """Everything the engine remembers about one vehicle.

    ``pending`` is the reorder buffer: ``(ping, fence set or id tuple)`` pairs sorted by event
    time, released once the vehicle's newest live ping is ``reorder_ms`` past them. ``shadow``
    is the track of the blind-area backfill segment being replayed, if any.
    """

    vehicle: str
    head: int = -1  # highest event time seen on the live stream (pending included)
    released: int = -1  # event time of the last ping released from the reorder buffer
    pending: list = field(default_factory=list)
    live: Track = field(default_factory=Track)
    shadow: Track | None = None
    trip: Trip | None = None
    past: list[Trip] = field(default_factory=list)  # the last closed trips (trips.trip_at)
    round: Round | None = None
    visit_log: list[LoggedVisit] = field(default_factory=list)  # the last dwells acted on
    raised: dict[str, list[int]] = field(default_factory=dict)  # type -> recent alert start ts
    open: dict[str, dict] = field(default_factory=dict)  # key -> alert awaiting its end
    lost_anchor: int = -1  # ts of the ping before the gap of the last signal_lost raised
    beat: Ping | None = None  # the last live, not backfilled ping
    beat_uw: bool = False  # whether a trip or round was under way at it
    # Kitchen/oil (unsourced_delivery, issue 11): start of the vehicle's last collection (a
    # dwell at a producer, or a stop raising unregistered_collection) and of its last
    # delivery; -1 none seen.
    last_collect: int = -1
    last_deliver: int = -1
    # [pings of the vehicle still to wait, ping, fence ids] of pings far ahead of its own time,
    # held until its later pings agree (stream.engine.driver, issue 11)
    limbo: list = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "vehicle": self.vehicle,
            "head": self.head,
            "released": self.released,
            "pending": [[p.to_dict(), list(getattr(fs, "ids", fs))] for p, fs in self.pending],
            "live": self.live.to_dict(),
            "shadow": None if self.shadow is None else self.shadow.to_dict(),
            "trip": None if self.trip is None else self.trip.to_dict(),
            "past": [t.to_dict() for t in self.past],
            "round": None if self.round is None else self.round.to_dict(),
            "visit_log": [v.to_list() for v in self.visit_log],
            "raised": {k: list(v) for k, v in self.raised.items()},
            "open": {k: _copy(v) for k, v in self.open.items()},
            "lost_anchor": self.lost_anchor,
            "beat": None if self.beat is None else self.beat.to_dict(),
            "beat_uw": self.beat_uw,
            # Written only when something is held: a checkpoint's bytes stay as they were.
            **({"limbo": _limbo(self.limbo)} if self.limbo else {}),
            **({"last_collect": self.last_collect} if self.last_collect >= 0 else {}),
            **({"last_deliver": self.last_deliver} if self.last_deliver >= 0 else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VehicleState:
        pending = [(Ping.from_dict(p), tuple(ids)) for p, ids in d["pending"]]
        shadow = None if d["shadow"] is None else Track.from_dict(d["shadow"])
        return cls(
            vehicle=d["vehicle"],
            head=d["head"],
            released=d["released"],
            pending=pending,
            live=Track.from_dict(d["live"]),
            shadow=shadow,
            trip=Trip.from_dict(d["trip"]),
            past=[Trip(**t) for t in d.get("past", ())],  # absent in states saved before it
            round=Round.from_dict(d["round"]),
            visit_log=[LoggedVisit.from_list(v) for v in d["visit_log"]],
            raised={k: list(v) for k, v in d["raised"].items()},
            open={k: _copy(v) for k, v in d["open"].items()},
            lost_anchor=d["lost_anchor"],
            beat=None if d["beat"] is None else Ping.from_dict(d["beat"]),
            beat_uw=d["beat_uw"],
            limbo=[[n, Ping.from_dict(p), tuple(ids)] for n, p, ids in d.get("limbo", ())],
            last_collect=d.get("last_collect", -1),
            last_deliver=d.get("last_deliver", -1),
        )


@dataclass(slots=True)
class EngineState:
    """The state of a whole run: every vehicle plus the watermark and the tick schedule."""

    vehicles: dict[str, VehicleState] = field(default_factory=dict)
    watermark: int = -1  # highest event time accepted so far, over all vehicles
    next_tick: int = -1  # the driver ticks when the watermark reaches this
    arrivals: int = 0  # pings seen by the driver
    # vehicle -> its latest accepted event time more than future_ms past the watermark: the
    # watermark jumps there only when future_quorum vehicles are that far (issue 11)
    ahead: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "watermark": self.watermark,
            "next_tick": self.next_tick,
            "arrivals": self.arrivals,
            "ahead": dict(self.ahead),
            "vehicles": {k: v.to_dict() for k, v in self.vehicles.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EngineState:
        vehicles = {k: VehicleState.from_dict(v) for k, v in d["vehicles"].items()}
        state = cls(
            vehicles, d["watermark"], d["next_tick"], d["arrivals"], dict(d.get("ahead", {}))
        )
        # States saved before issue 11 held far-ahead pings in one fleet-wide limbo: each goes
        # to its vehicle's, to wait there as long as any ping does.
        for _n, p, ids in d.get("limbo", ()):
            ping = Ping.from_dict(p)
            vs = vehicles.get(ping.vehicle)
            if vs is None:
                vs = vehicles[ping.vehicle] = VehicleState(ping.vehicle)
            vs.limbo.append([Thresholds().future_hold, ping, tuple(ids)])
        return state


def _limbo(entries: list) -> list:
    return [[n, p.to_dict(), list(getattr(ids, "ids", ids))] for n, p, ids in entries]


def _copy(value: Any) -> Any:
    """Deep copy of JSON-ready data (alerts kept open in state are mutated later)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
