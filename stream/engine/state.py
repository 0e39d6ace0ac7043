"""Per-vehicle engine state: plain data, serialisable to a JSON-ready dict and back.

It is meant to live in a key-value table keyed by vehicle (a Faust table). Everything in it is
ints, floats, strings, bools, lists and dicts of those, or the small dataclasses below; fence
sets are stored as their id tuples. ``X.from_dict(x.to_dict()) == x`` for every class here, also
after a trip through JSON.

A track's state (visits, stop, episodes, recent pings) is ``stream.engine.track_state``; this
module holds the vehicle's (its tracks, trip, round, alerts) and the whole run's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from stream.engine.config import Thresholds
from stream.engine.track_state import NEVER, LoggedVisit, Track
from stream.ping import Ping


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
