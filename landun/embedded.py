"""The embedded driver: simulator → engine → API in one asyncio process (`landun demo`).

No Kafka, Redis or Docker: the engine is the same pure library the stream workers run, the API the
same app over its in-memory ports. Simulated pings are replayed in arrival order, ``rate`` times
faster than real time; each wall-clock step hands the due pings to the engine (in a worker thread,
so the event loop keeps serving websockets) and feeds positions and alerts to the API.
When a simulated night ends, the next one starts with the next seed.

The first night is archived as it runs (issue 12; ``replay.embedded_sink``): every ping with
its verdict, the events and the reference data, so that ``landun replay`` and the map's replay
mode can play it back. Batches are cut every :data:`ARCHIVE_LINES` pings and written from a
worker thread at most every :data:`ARCHIVE_EVERY_S` seconds, never on the event loop. The
nights after it replay the same hours with another seed: archived too, they would lay a second
fleet over the first one's tracks, so they are not.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import orjson

from api.feed import Feed, FeedError
from geofence import FenceIndex, load_fences
from replay.embedded_sink import EmbeddedSink
from replay.reference import reference_events
from sim import simulate, writer
from sim.feed import arrivals
from stream.engine import EngineContext, EngineState, EventKind, Thresholds, finish, process
from stream.engine.beats import changed_beats
from stream.eventtime import parse_ts
from stream.ping import parse_ping
from stream.registry import Registry
from stream.wire_values import PingError

log = logging.getLogger("landun.demo")
STEP_S = 0.5  # wall-clock seconds between engine steps
ARCHIVE_LINES = 8_192  # pings per archive batch (one file per table and day)
ARCHIVE_EVERY_S = 3.0  # wall-clock seconds between archive writes, at most one at a time


@dataclass
class Night:
    """One simulated night, ready to replay."""

    ctx: EngineContext
    fences: dict
    registry: dict
    pings: list[tuple[int, dict]]
    states: EngineState = field(default_factory=EngineState)
    arrived: int = 0  # pings handed to the engine so far: their refs, unique over the night
    shown: dict[str, int] = field(default_factory=dict)  # vehicle -> ts of the position shown
    sink: EmbeddedSink | None = None  # the night's archive writer (issue 12), if archived

    def archive_to(self, archive) -> None:
        """Archive this night to ``archive``: its pings from arrival 0, its reference data."""
        snapshot = reference_events(self.fences["features"], self.registry, 0)
        self.sink = EmbeddedSink(archive, snapshot, ref_base=0, lines_per_batch=ARCHIVE_LINES)


def prepare(vehicles: int, hours: float, seed: int, start: str) -> Night:
    """Simulate a night and build the engine's context for it."""
    sim = simulate(vehicles, hours, seed, parse_ts(start))
    fences = writer.fences(sim.world)
    registry = writer.registry(sim.world)
    ctx = EngineContext(
        FenceIndex(load_fences(fences)), Registry.from_mapping(registry), Thresholds()
    )
    return Night(ctx, fences, registry, list(arrivals(sim)))


def step(night: Night, batch: list[dict], feed: Feed) -> dict[str, int]:
    """Run due pings through the engine; feed its alerts, trips and positions to the API.

    Positions are the vehicles' latest accepted live pings (``stream.engine.beats``), as the
    stream workers show them: a ping still buffered may yet be rejected (a GPS jump, a clock far
    ahead), and shown at arrival it would stay on the map. ``pings`` counts this step's pings
    not rejected so far, ``rejected`` the rejections reported in it.
    """
    pings, counts = [], {"pings": 0, "rejected": 0, "alerts": 0, "positions": 0}
    # Refs unique over the night: a rejection can be of a ping of an earlier step (released
    # from the reorder buffer now) and must not count against this step's ping of that index.
    sink = night.sink
    for k, raw in enumerate(batch, start=night.arrived):
        try:
            ping = parse_ping(raw, k)
        except PingError as exc:
            counts["rejected"] += 1
            if sink is not None:
                sink.line(k, _text(raw), error=exc)
            continue
        pings.append(ping)
        if sink is not None:
            sink.line(k, _text(raw), ping=ping)
    night.arrived += len(batch)
    night.states, events = process(pings, night.ctx, night.states)
    if sink is not None:
        sink.settle(events, night.states)
    rejected = {p["ref"] for kind, p in events if kind == EventKind.REJECTED}
    counts["rejected"] += len(rejected)
    counts["pings"] = sum(1 for p in pings if p.ref not in rejected)
    counts["alerts"] = _feed_events(events, feed)
    counts["positions"] = show_positions(
        night, feed, {p["vehicle"] for k, p in events if k == EventKind.ALERT}
    )
    if night.states.watermark >= 0:
        feed.mark_offline(night.states.watermark)
    return counts


def _text(raw) -> str:
    """A simulated ping (a dict) as the JSON text a gateway would have received."""
    if isinstance(raw, bytes | str):
        return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return orjson.dumps(raw).decode()


def _feed_events(events: list, feed: Feed) -> int:
    """Alerts and trip/round records to the API; returns the number of alerts."""
    alerts = 0
    for kind, payload in events:
        if kind == EventKind.ALERT:
            feed.alert(payload)
            alerts += 1
        elif kind == EventKind.TRIP:
            feed.trip(payload)
    return alerts


def show_positions(night: Night, feed: Feed, force: set[str]) -> int:
    """Hand the vehicles' new latest accepted pings (and those of ``force``) to the API."""
    shown = 0
    for beat in changed_beats(night.states, night.states.vehicles, night.shown, force):
        try:
            feed.position(beat.to_dict())
        except FeedError as exc:  # the engine accepted it, so this is our bug: say so
            log.warning("position not shown: %s", exc)
            continue
        night.shown[beat.vehicle] = beat.ts
        shown += 1
    return shown


async def run(
    feed: Feed,
    vehicles: int,
    hours: float,
    seed: int,
    start: str,
    rate: float,
    nights: int | None = None,
    archive=None,
    jt808=None,
) -> None:
    """Replay nights forever (or ``nights`` of them), ``rate`` times faster than real time;
    the first one archived to ``archive`` when given (issue 12). ``jt808``: the JT/T 808 hook
    of ``landun demo --jt808-port`` (issue 14; ``landun.commands.gateway.EmbeddedGateway``)."""
    done = 0
    while nights is None or done < nights:
        night = await asyncio.to_thread(prepare, vehicles, hours, seed + done, start)
        if archive is not None and done == 0:
            night.archive_to(archive)
            log.info("night 1 archived to %s (landun replay --archive %s)", archive, archive)
        elif archive is not None and done == 1:
            log.info("night 2 and later replay the same hours: not archived")
        feed.load_reference(night.fences, night.registry)
        if jt808 is not None:  # issue 14 hook: terminals of this night's vehicles may connect
            jt808.registry(night.registry)
        log.info("night %d: %d vehicles, %d pings", done + 1, vehicles, len(night.pings))
        await _replay(night, feed, rate, jt808)
        night.states, events = finish(night.ctx, night.states)
        _feed_events(events, feed)
        show_positions(night, feed, set())
        if night.sink is not None:
            night.sink.settle(events, None, final=True)
            if await _write(night):
                log.info("night 1 archived: %d pings", night.sink.counts.rows)
        done += 1


async def _write(night: Night) -> bool:
    """Write the night's finished archive batches in a worker thread. A failure (a full disk)
    stops archiving, with its reason in the log, not the demo: the live map goes on."""
    try:
        await asyncio.to_thread(night.sink.write_ready)
    except OSError as exc:
        log.error("archive write failed, archiving stopped: %s", exc)
        night.sink = None
        return False
    return True


async def _replay(night: Night, feed: Feed, rate: float, jt808=None) -> None:
    first = night.pings[0][0] if night.pings else 0
    t0, k = time.monotonic(), 0
    writing: asyncio.Task | None = None
    stepping: asyncio.Future | None = None
    wrote = time.monotonic()
    try:
        while k < len(night.pings):
            due = first + (time.monotonic() - t0) * rate * 1000.0
            end = k
            while end < len(night.pings) and night.pings[end][0] <= due:
                end += 1
            terminals = jt808.drain() if jt808 is not None else []  # issue 14 hook
            if end > k or terminals:
                batch = [p for _, p in night.pings[k:end]] + terminals
                # shielded: a stop waits for the step's thread (see _stop_archiving)
                stepping = asyncio.ensure_future(asyncio.to_thread(step, night, batch, feed))
                await asyncio.shield(stepping)
                k = end
            idle = writing is None or writing.done()
            if night.sink is not None and idle and time.monotonic() - wrote >= ARCHIVE_EVERY_S:
                writing = asyncio.create_task(_write(night))
                wrote = time.monotonic()
            await asyncio.sleep(STEP_S)
    except asyncio.CancelledError:
        await _stop_archiving(night, stepping, writing)
        raise
    finally:
        if writing is not None:
            await writing  # the night's last write waits for this one


async def _stop_archiving(
    night: Night, stepping: asyncio.Future | None, writing: asyncio.Task | None
) -> None:
    """The demo stopped mid-night: archive what it has seen, up to its last ping (the pings
    the engine had not decided yet with the verdict ``held``), so the night so far can be
    replayed."""
    pending = [f for f in (stepping, writing) if f is not None and not f.done()]
    if pending:
        await asyncio.wait(pending)  # the step's thread and the write in flight finish first
    if night.sink is not None:
        night.sink.close(night.states)
        if await _write(night):
            log.info("demo stopped: night 1 archived up to arrival %d", night.arrived - 1)
