"""The embedded driver: simulator → engine → API in one asyncio process (`landun demo`).

No Kafka, Redis or Docker: the engine is the same pure library the stream workers run, the API the
same app over its in-memory ports. Simulated pings are replayed in arrival order, ``rate`` times
faster than real time; each wall-clock step hands the due pings to the engine (in a worker thread,
so the event loop keeps serving websockets) and feeds positions and alerts to the API.
When a simulated night ends, the next one starts with the next seed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from api.feed import Feed, FeedError
from geofence import FenceIndex, load_fences
from stream.engine import EngineContext, EngineState, Thresholds, finish, process
from stream.ping import PingError, parse_ping, parse_ts
from stream.registry import Registry
from stream.sim import simulate, writer
from stream.sim.feed import arrivals

log = logging.getLogger("landun.demo")
STEP_S = 0.5  # wall-clock seconds between engine steps


@dataclass
class Night:
    """One simulated night, ready to replay."""

    ctx: EngineContext
    fences: dict
    registry: dict
    pings: list[tuple[int, dict]]
    states: EngineState = field(default_factory=EngineState)
    arrived: int = 0  # pings handed to the engine so far: their refs, unique over the night


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
    """Run due pings through the engine; feed accepted positions and alerts to the API."""
    pings, counts = [], {"pings": 0, "rejected": 0, "alerts": 0}
    # Refs unique over the night: a rejection can be of a ping of an earlier step (released
    # from the reorder buffer now) and must not hide this step's ping with the same index.
    for k, raw in enumerate(batch, start=night.arrived):
        try:
            pings.append(parse_ping(raw, k))
        except PingError:
            counts["rejected"] += 1
    night.arrived += len(batch)
    night.states, events = process(pings, night.ctx, night.states)
    rejected = {p["ref"] for kind, p in events if kind == "rejected"}
    counts["rejected"] += len(rejected)
    for ping in pings:
        if ping.ref in rejected:
            continue
        try:
            feed.position(ping.to_dict())
            counts["pings"] += 1
        except FeedError as exc:  # the engine accepted it, so this is our bug: say so
            log.warning("position not shown: %s", exc)
    for kind, payload in events:
        if kind == "alert":
            feed.alert(payload)
            counts["alerts"] += 1
        elif kind == "trip":
            feed.trip(payload)
    if night.states.watermark >= 0:
        feed.mark_offline(night.states.watermark)
    return counts


async def run(
    feed: Feed,
    vehicles: int,
    hours: float,
    seed: int,
    start: str,
    rate: float,
    nights: int | None = None,
) -> None:
    """Replay nights forever (or ``nights`` of them), ``rate`` times faster than real time."""
    done = 0
    while nights is None or done < nights:
        night = await asyncio.to_thread(prepare, vehicles, hours, seed + done, start)
        feed.load_reference(night.fences, night.registry)
        log.info("night %d: %d vehicles, %d pings", done + 1, vehicles, len(night.pings))
        await _replay(night, feed, rate)
        night.states, events = finish(night.ctx, night.states)
        for kind, payload in events:
            if kind == "alert":
                feed.alert(payload)
        done += 1


async def _replay(night: Night, feed: Feed, rate: float) -> None:
    first = night.pings[0][0] if night.pings else 0
    t0, k = time.monotonic(), 0
    while k < len(night.pings):
        due = first + (time.monotonic() - t0) * rate * 1000.0
        end = k
        while end < len(night.pings) and night.pings[end][0] <= due:
            end += 1
        if end > k:
            batch = [p for _, p in night.pings[k:end]]
            await asyncio.to_thread(step, night, batch, feed)
            k = end
        await asyncio.sleep(STEP_S)
