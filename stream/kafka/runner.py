"""The worker's hot path: one micro-batch of pings records through the engine, out and saved.

For a batch (records of any of the worker's partitions, from ``stream.take_events``):

1. per partition, in offset order: skip records below the checkpoint's ``next_offset`` (a
   re-delivery after a crash), decode and validate the rest (``codec``), run the pings through
   the engine (``stream.engine.process``; a *final* control record also runs ``finish``);
2. send every output (alerts, events, dead letters) and **wait until Kafka has them**; update the
   live view (Redis), if there is one;
3. only then may the checkpoint of each partition (changed vehicles, then the meta with the
   new ``next_offset``) be written into the tables. It is written at most every
   ``checkpoint_every_s`` per partition (and by :meth:`Runner.flush` on a timer when the input
   pauses): a vehicle that pings ten times in that time is written once. Each table write is
   one changelog record that Faust sends one by one, and writing after every batch made the
   changelog the bottleneck: at 5,000 pings/s in small batches nearly every ping was a record
   ("producer buffer full", commits of 1.5 s, alerts 16 s late). Kafka Streams dedups its
   state writes per commit interval for the same reason.

A crash anywhere re-delivers records after the checkpoint: outputs may repeat (alert ids make
them idempotent), the state never applies a record twice nor misses one (Faust may have
committed past the checkpoint; the runner then reads the partition again from ``next_offset``,
see :meth:`Runner._rewind`). An exception in the engine never escapes: the partition's records
of that batch go to the dead letter (``engine_error``), its state is rebuilt from the last
checkpoint plus the records processed since (kept until the next checkpoint), and the partition
moves on.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from stream.engine import EngineContext, finish, process
from stream.kafka.checkpoint import PartitionRun, meta_key, vehicle_key
from stream.kafka.codec import DeadLetter, Decoded, decode_records
from stream.kafka.metrics import WorkerMetrics
from stream.kafka.outputs import (
    OutRecord,
    dead_letter_record,
    engine_dead_letters,
    event_records,
)
from stream.kafka.topics import Topics

log = logging.getLogger(__name__)
CONTROL_HEADER = "landun-control"
MAX_REWINDS = 3
REWIND_WAIT_S = 5.0
FINAL = b"final"
CHECKPOINT_EVERY_S = 1.0


class Tables(Protocol):
    """Reads and writes of the state table, in the context of a partition's record (Faust
    writes the changelog of that partition)."""

    def read(self, event: Any, key: bytes) -> bytes | None: ...

    def write(self, event: Any, items: dict[bytes, bytes]) -> None: ...


class LiveView(Protocol):
    """Where the latest positions and alerts go (Redis); may be absent."""

    def use_registry(self, registry: Any) -> None: ...

    async def publish(self, positions: list, alerts: list) -> None: ...


@dataclass(slots=True)
class Source:
    """One pings record as the runner needs it (made from a Faust event)."""

    partition: int
    offset: int
    value: bytes | None
    final: bool
    event: Any = None  # the Faust event: table writes happen in its partition's context
    timestamp: float | None = None  # the record's timestamp, epoch seconds


@dataclass(slots=True)
class Step:
    """The outcome of one partition's share of a batch, before it is saved."""

    run: PartitionRun
    event: Any
    touched: set[str] = field(default_factory=set)
    everyone: bool = False
    generation: int = 0
    # Records processed since the last checkpoint (rebuilds the state after an engine error).
    sources: list[Source] = field(default_factory=list)

    def absorb(self, earlier: Step) -> None:
        """Carry over what an earlier, not yet checkpointed batch of the partition did."""
        self.touched |= earlier.touched
        self.everyone |= earlier.everyone
        self.sources[:0] = earlier.sources


class Runner:
    """Runs micro-batches for the partitions this worker owns."""

    def __init__(
        self,
        topics: Topics,
        partitions: int,
        tables: Tables,
        send: Callable[[OutRecord], Awaitable[Awaitable]],
        metrics: WorkerMetrics,
        live: LiveView | None = None,
        seek: Callable[[int, int], Awaitable[None]] | None = None,
        checkpoint_every_s: float = CHECKPOINT_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.topics = topics
        self.partitions = partitions
        self.tables = tables
        self.send = send
        self.metrics = metrics
        self.live = live
        self.ctx: EngineContext | None = None
        self.runs: dict[int, PartitionRun] = {}
        self.generation: dict[int, int] = {}
        self.seek = seek
        self.seeks: list[tuple[int, int]] = []  # (partition, offset) to read again from
        self.rewinds: dict[int, tuple[int, int, float]] = {}  # p -> (offset, seeks, last seek)
        self.checkpoint_every_s = checkpoint_every_s
        self.clock = clock
        self.pending: dict[int, Step] = {}  # partition -> what its next checkpoint covers
        self.saved_at: dict[int, float] = {}  # partition -> clock() of its last checkpoint
        self._lock = asyncio.Lock()  # a batch and a timer's flush never interleave

    def set_context(self, ctx: EngineContext) -> None:
        """New reference data; the next batch uses it."""
        self.ctx = ctx
        if self.live is not None:
            self.live.use_registry(ctx.registry)

    def forget(self, partitions) -> None:
        """Drop cached state of partitions this worker no longer owns (revoked)."""
        for p in partitions:
            self.runs.pop(p, None)
            self.pending.pop(p, None)
            self.generation[p] = self.generation.get(p, 0) + 1

    async def flush(self, owned: Callable[[int], bool], force: bool = False) -> None:
        """Write the checkpoints that are due (all pending ones with ``force``); a timer calls
        this so that a partition whose input paused is checkpointed too."""
        async with self._lock:
            self._save_due(owned, force)

    async def handle(self, sources: list[Source], owned: Callable[[int], bool]) -> None:
        """Run one micro-batch; never raises for bad input or engine failures."""
        async with self._lock:
            await self._handle(sources, owned)

    async def _handle(self, sources: list[Source], owned: Callable[[int], bool]) -> None:
        t0 = time.perf_counter()
        stamps = [s.timestamp for s in sources if s.timestamp is not None]
        if stamps:
            self.metrics.age.observe(max(0.0, time.time() - min(stamps)))
        by_partition: dict[int, list[Source]] = {}
        for s in sources:
            by_partition.setdefault(s.partition, []).append(s)
        outputs: list[OutRecord] = []
        positions: list = []
        alerts: list = []
        steps: list[Step] = []
        n_pings = 0
        for p, group in by_partition.items():
            if not owned(p):
                continue  # revoked while buffered: the new owner processes it
            step, events, n = self._partition(p, group, outputs)
            if step is None:
                continue
            steps.append(step)
            n_pings += n
            alerts += [pl for kind, pl in events if kind == "alert"]
            positions += _positions(events, step)
        futures = [await self.send(r) for r in outputs]
        if futures:
            await asyncio.gather(*futures)
        if self.live is not None and (positions or alerts):
            await self.live.publish(positions, alerts)
        for step in steps:
            self._defer(step)
        self._save_due(owned)
        seeks, self.seeks = self.seeks, []
        for p, offset in seeks:
            if self.seek is not None and owned(p):
                await self.seek(p, offset)
        self.metrics.batch_seconds.observe(time.perf_counter() - t0)
        self.metrics.batch_pings.observe(n_pings)

    def _partition(self, p: int, group: list[Source], outputs: list[OutRecord]):
        run = self.runs.get(p)
        if run is None:
            run = self.runs[p] = self._load(p, group[0].event)
        fresh = [s for s in group if s.offset >= run.next_offset]
        self.metrics.skipped.inc(len(group) - len(fresh))
        if not fresh:
            return None, [], 0
        target = max(run.next_offset, 0)
        if fresh[0].offset > target:
            resumed = next((i for i, s in enumerate(fresh) if s.offset == target), None)
            if resumed is not None:
                fresh = fresh[resumed:]  # read again after a seek, behind stale records
            elif self._rewind(p, target, fresh[0].offset):
                return None, [], 0
        self.rewinds.pop(p, None)
        step = Step(run, group[-1].event, generation=self.generation.get(p, 0))
        try:
            events, decoded = self._engine(run, fresh, step)
            step.sources = fresh
        except Exception:  # noqa: BLE001 - the policy: dead-letter, rebuild, move on
            self.metrics.errors.inc()
            detail = traceback.format_exc(limit=3)[-480:]
            log.exception("partition %d: engine failed on offsets %d..", p, fresh[0].offset)
            run = self.runs[p] = self._rebuild(p, group[0].event)
            step.run, step.everyone = run, False
            events, decoded = [], Decoded()
            for s in fresh:
                decoded.dead.append(DeadLetter("engine_error", detail, p, s.offset, s.value or b""))
        run.next_offset = fresh[-1].offset + 1
        dead = decoded.dead + engine_dead_letters(events, p, decoded.raw)
        outputs += [dead_letter_record(self.topics, d) for d in dead]
        batch = f"{p}:{fresh[0].offset}-{fresh[-1].offset}"
        outputs += event_records(self.topics, events, batch)
        self._count(dead, events)
        self.metrics.pings_in.inc(len(decoded.pings) + len(decoded.dead))
        return step, events, len(decoded.pings)

    def _rewind(self, p: int, target: int, first: int) -> bool:
        """Records after a gap: Faust committed past the checkpoint (records acked by a batch
        whose checkpoint a rebalance cut short). Read again from the checkpoint's offset;
        records still buffered from before the seek are dropped meanwhile. After a few seeks
        (the records may have expired) the gap is accepted. True: drop these records."""
        now = time.monotonic()
        at, tries, last = self.rewinds.get(p, (target, 0, 0.0))
        if at != target:
            tries, last = 0, 0.0
        if tries and now - last < REWIND_WAIT_S:
            return True  # stale records read before the seek took effect
        if tries >= MAX_REWINDS:
            self.metrics.gaps.inc()
            log.error("partition %d: offsets %d..%d cannot be read again", p, target, first - 1)
            self.rewinds.pop(p, None)
            return False
        log.warning("partition %d: at offset %d, checkpoint at %d: rewinding", p, first, target)
        self.seeks.append((p, target))
        self.rewinds[p] = (target, tries + 1, now)
        return True

    def _count(self, dead: list[DeadLetter], events: list) -> None:
        m = self.metrics
        for reason, n in Counter(d.reason for d in dead).items():
            m.rejected.labels(reason).inc(n)
        kinds = Counter(pl["type"] if k == "alert" else k for k, pl in events if k != "rejected")
        for kind, n in kinds.items():
            if kind in ("trip", "stop", "fence"):
                m.events.labels(kind).inc(n)
            else:
                m.alerts.labels(kind).inc(n)

    def _engine(self, run: PartitionRun, fresh: list[Source], step: Step):
        ctx = self.ctx
        states = run.states
        step.touched = {e[1].vehicle for e in states.limbo}
        tick_before = states.next_tick
        events: list = []
        decoded = Decoded()
        segment: list[Source] = []
        for s in [*fresh, None]:
            if s is not None and not s.final:
                segment.append(s)
                continue
            part = decode_records(
                ((x.partition, x.offset, x.value) for x in segment), self.partitions
            )
            decoded.pings += part.pings
            decoded.dead += part.dead
            decoded.raw.update(part.raw)
            states, out = process(part.pings, ctx, states)
            events += out
            segment = []
            if s is not None:  # a final record: end of a finite input
                states, out = finish(ctx, states)
                events += out
                step.everyone = True
        run.states = states
        step.touched |= {p.vehicle for p in decoded.pings}
        step.touched |= {e[1].vehicle for e in states.limbo}
        step.touched |= {pl["vehicle"] for kind, pl in events if kind != "rejected"}
        step.everyone |= states.next_tick != tick_before
        return events, decoded

    def _rebuild(self, p: int, event: Any) -> PartitionRun:
        """The partition's state before the failed batch: its checkpoint, then the records
        processed since (the engine is deterministic and does not depend on how records are
        batched, so this is the state those batches left; their outputs were already sent)."""
        run = self._load(p, event)
        earlier = self.pending.get(p)
        if earlier is not None and earlier.run is self.runs.get(p):
            self._engine(run, earlier.sources, Step(run, event))
            run.next_offset = earlier.sources[-1].offset + 1 if earlier.sources else run.next_offset
            earlier.run = run
        return run

    def _defer(self, step: Step) -> None:
        p = step.run.partition
        earlier = self.pending.get(p)
        if earlier is not None and earlier.generation == step.generation:
            step.absorb(earlier)
        self.pending[p] = step

    def _save_due(self, owned: Callable[[int], bool], force: bool = False) -> None:
        now = self.clock()
        for p, step in list(self.pending.items()):
            if force or now - self.saved_at.get(p, -math.inf) >= self.checkpoint_every_s:
                del self.pending[p]
                self._save(step, owned)
                self.saved_at[p] = now

    def _load(self, p: int, event: Any) -> PartitionRun:
        meta = self.tables.read(event, meta_key(p))
        run = PartitionRun.load(p, meta, lambda vid: self.tables.read(event, vehicle_key(vid)))
        log.info("partition %d: state loaded, next offset %d", p, run.next_offset)
        return run

    def _save(self, step: Step, owned: Callable[[int], bool]) -> None:
        p = step.run.partition
        if not owned(p) or self.generation.get(p, 0) != step.generation:
            # Revoked while the outputs were in flight: the new owner redoes the records.
            self.runs.pop(p, None)
            return
        meta, vehicles = step.run.checkpoint(step.touched, step.everyone)
        items = {vehicle_key(vid): raw for vid, raw in vehicles.items()}
        items[meta_key(p)] = meta  # last: the meta is only kept with the states it lists
        self.tables.write(step.event, items)


def _positions(events: list, step: Step) -> list:
    """Latest accepted live position per vehicle touched by the batch (for the live view)."""
    out = []
    vehicles = step.run.states.vehicles
    for vid in sorted(step.touched):
        vs = vehicles.get(vid)
        if vs is not None and vs.beat is not None:
            out.append(vs.beat)
    return out
