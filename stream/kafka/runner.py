"""The worker's hot path: one micro-batch of pings records through the engine, out and saved.

For a batch (records of any of the worker's partitions, from ``stream.noack_take``):

1. per partition, in offset order: skip records below the checkpoint's ``next_offset`` (a
   re-delivery after a crash), run the rest through the engine (``stream.kafka.step``);
2. send every output (alerts, events, dead letters) without waiting (the next batch runs while
   Kafka acknowledges them); update the live view (Redis), if there is one;
3. a checkpoint of a partition (changed vehicles, then the meta with the new ``next_offset``)
   is written into the tables only once Kafka has acknowledged **every output sent before
   it**; a failed delivery drops the pending state and the partitions redo their records from
   the last checkpoint. A checkpoint is written at most every ``checkpoint_every_s`` per
   partition (and by :meth:`Runner.flush` on a timer when the input pauses): each table write
   is one changelog record that Faust sends one by one, and writing after every batch made the
   changelog the bottleneck (at 5,000 pings/s nearly every ping was a record: "producer buffer
   full", alerts 16 s late). Kafka Streams dedups its state writes per commit interval too.

A crash anywhere re-delivers records after the checkpoint: outputs may repeat (alert ids make
them idempotent), the state never applies a record twice nor misses one (Faust may have
committed past the checkpoint; the runner then reads the missing records directly from Kafka,
see :meth:`Runner._complete`). An exception in the engine never escapes: the partition's records
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
from typing import Any

from stream.engine import EngineContext, EventKind
from stream.engine.beats import changed_beats
from stream.kafka.checkpoint import PartitionRun, meta_key, vehicle_key
from stream.kafka.codec import DeadLetter, Decoded
from stream.kafka.metrics import WorkerMetrics
from stream.kafka.outputs import (
    OutRecord,
    dead_letter_record,
    engine_dead_letters,
    event_records,
)
from stream.kafka.records import (  # noqa: F401 - CONTROL_HEADER, FINAL, NUDGE re-exported
    CONTROL_HEADER,
    FINAL,
    NUDGE,
    LiveView,
    Source,
    Tables,
    consecutive,
)
from stream.kafka.step import Step, run_step
from stream.kafka.topics import Topics

log = logging.getLogger(__name__)
# Engine events counted as records (the rest are alerts, counted by type).
_RECORD_KINDS = (EventKind.TRIP, EventKind.STOP, EventKind.FENCE)
CHECKPOINT_EVERY_S = 1.0
DELIVERY_TIMEOUT_S = 60.0  # Kafka acks of outputs and checkpoints; beyond, treated as failed
UNPUBLISHED_MAX = 100_000  # alerts kept for the live view while Redis is down


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
        fetch: Callable[[int, int, int], Awaitable[list[Source]]] | None = None,
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
        self.fetch = fetch  # (partition, start, end) -> the records at offsets start..end-1
        self.checkpoint_every_s = checkpoint_every_s
        self.clock = clock
        self.pending: dict[int, Step] = {}  # partition -> what its next checkpoint covers
        self.unacked: list[Awaitable] = []  # deliveries of outputs sent since the last save
        # (offset, Faust event) per partition not yet acknowledged to Faust: acked once a
        # durable checkpoint covers the offset, so Faust never commits past the checkpoint.
        self.received: dict[int, list[tuple[int, Any]]] = {}
        self.durable: dict[int, int] = {}  # partition -> next_offset of its durable checkpoint
        self.ack: Callable[[Any], Awaitable] | None = None
        self.saved_at: dict[int, float] = {}  # partition -> clock() of its last checkpoint
        self._lock = asyncio.Lock()  # a batch and a timer's flush never interleave
        self.seen: dict[int, float] = {}  # partition -> clock() of its last record
        self.unpublished: list[dict] = []  # alerts of failed live-view publishes, retried

    def set_context(self, ctx: EngineContext) -> None:
        """New reference data; the next batch uses it."""
        self.ctx = ctx
        if self.live is not None:
            self.live.use_registry(ctx.registry)

    def forget(self, partitions) -> None:
        """Drop everything of partitions this worker no longer owns (revoked)."""
        for p in list(partitions):
            self.reset([p])
            self.received.pop(p, None)
            self.durable.pop(p, None)

    def reset(self, partitions) -> None:
        """After a failure: drop the cached state of partitions still owned; it is reloaded
        from the last durable checkpoint and the records since are read again (``fetch``).
        Their events stay, to be acked once a checkpoint covers them."""
        for p in list(partitions):
            self.runs.pop(p, None)
            self.pending.pop(p, None)
            self.generation[p] = self.generation.get(p, 0) + 1

    async def flush(self, owned: Callable[[int], bool], force: bool = False) -> None:
        """Write the checkpoints that are due (all pending ones with ``force``); a timer calls
        this so that a partition whose input paused is checkpointed too."""
        async with self._lock:
            await self._save_due(owned, force)

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
            self.seen[p] = self.clock()
            received = self.received.setdefault(p, [])
            received += [(s.offset, s.event) for s in group if s.event is not None]
            generation = self.generation.get(p, 0)
            try:
                group = await self._complete(p, group)
                if group is None or not owned(p) or self.generation.get(p, 0) != generation:
                    continue  # retried with the next batch, or revoked meanwhile
                step, events, n = self._partition(p, group, outputs)
            except Exception:  # noqa: BLE001 - e.g. a checkpoint that cannot be loaded
                self.metrics.errors.inc()
                log.exception("partition %d: batch failed; reloading from the checkpoint", p)
                self.reset([p])
                continue
            if step is None:
                continue
            steps.append(step)
            n_pings += n
            fresh_alerts = [pl for kind, pl in events if kind == EventKind.ALERT]
            alerts += fresh_alerts
            names = step.run.states.vehicles if step.everyone else step.touched
            force = {a["vehicle"] for a in fresh_alerts}  # drawn as in violation now
            beats = changed_beats(step.run.states, names, step.run.shown, force)
            positions += [(step.run, beat) for beat in beats]
        # Not awaited here: the next batch runs while Kafka acknowledges these; a checkpoint
        # waits for every output sent before it (_save_due).
        self.unacked += [await self.send(r) for r in outputs]
        if self.live is not None:
            await self._publish(positions, alerts)
        for step in steps:
            self._defer(step)
        await self._save_due(owned)
        self.metrics.batch_seconds.observe(time.perf_counter() - t0)
        self.metrics.batch_pings.observe(n_pings)

    async def _publish(self, positions: list, alerts: list) -> None:
        """Hand positions (``(run, beat)`` pairs) and alerts to the live view. Alerts of a
        failed publish are kept and sent with the next one (storing an alert is idempotent);
        positions need not be: a vehicle's beat counts as shown only once published."""
        alerts = self.unpublished + alerts
        if not (positions or alerts):
            return
        try:
            await self.live.publish([beat for _, beat in positions], alerts)
        except Exception:  # noqa: BLE001 - a derived view (landun rebuild-live)
            self.metrics.errors.inc()
            self.unpublished = alerts[-UNPUBLISHED_MAX:]
            if len(alerts) > UNPUBLISHED_MAX:
                log.error("live view: %d alerts dropped; run `landun rebuild-live` once it is "
                          "back", len(alerts) - UNPUBLISHED_MAX)  # fmt: skip
            log.exception("live view not updated; %d alerts kept for the next try", len(alerts))
            return
        self.unpublished = []
        for run, beat in positions:
            run.shown[beat.vehicle] = beat.ts

    def _partition(self, p: int, group: list[Source], outputs: list[OutRecord]):
        run = self._run(p, group)
        self.metrics.skipped.inc(sum(1 for s in group if s.offset < run.next_offset))
        fresh = self._select(p, max(run.next_offset, 0), group)
        if not fresh:
            return None, [], 0
        event = next((s.event for s in reversed(group) if s.event is not None), None)
        step = Step(run, event, generation=self.generation.get(p, 0))
        try:
            events, decoded = run_step(self.ctx, self.partitions, run, fresh, step)
            step.sources = fresh
        except Exception:  # noqa: BLE001 - the policy: dead-letter, rebuild, move on
            self.metrics.errors.inc()
            detail = traceback.format_exc(limit=3)[-480:]
            log.exception("partition %d: engine failed on offsets %d..", p, fresh[0].offset)
            run = self.runs[p] = self._rebuild(p, event)
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
        self.metrics.count_warnings(decoded.pings)
        return step, events, len(decoded.pings)

    async def _complete(self, p: int, group: list[Source]) -> list[Source]:
        """The partition's records of the batch with any missing offsets filled in.

        Offsets of the pings topic are consecutive (not compacted, no transactions), and the
        state needs every one of them from its ``next_offset`` on. Faust may hand over records
        from further on (it resumed past the checkpoint: it sometimes commits offsets that were
        never acknowledged to it, seen after kill -9 in the crash test); seeking its consumer
        back is unreliable (records fetched before the seek move its read position forward
        again and it then drops the records read again). So the missing ones are read directly
        from Kafka (``fetch``) and merged in, in offset order.
        """
        run = self._run(p, group)
        target = max(run.next_offset, 0)
        taken, expected = consecutive(group, target)
        beyond = [s.offset for s in group if s.offset >= expected]
        if not beyond or self.fetch is None:
            return group
        log.warning("partition %d: offsets %d..%d missing from the stream, read from Kafka",
                    p, expected, min(beyond) - 1)  # fmt: skip
        try:
            fetched = await self.fetch(p, expected, max(beyond))
        except Exception:  # noqa: BLE001 - not read now (Kafka slow or away): the next batch retries
            self.metrics.errors.inc()
            log.exception("partition %d: reading offsets %d.. failed; retrying later", p, expected)
            return None
        self.metrics.filled.inc(len(fetched))
        merged = {s.offset: s for s in fetched}
        merged.update({s.offset: s for s in group})
        return [merged[offset] for offset in sorted(merged)]

    def _select(self, p: int, target: int, group: list[Source]) -> list[Source]:
        """The records to run: consecutive offsets from ``target`` (the state's next offset);
        records below it are already in the state (re-deliveries, duplicates). A gap left
        after :meth:`_complete` (records expired) is counted, reported, and jumped."""
        taken, expected = consecutive(group, target)
        while beyond := [s.offset for s in group if s.offset >= expected]:
            self.metrics.gaps.inc()
            log.error("partition %d: offsets %d..%d cannot be read", p, expected, min(beyond) - 1)
            more, expected = consecutive(group, min(beyond))
            taken += more
        return taken

    def _count(self, dead: list[DeadLetter], events: list) -> None:
        m = self.metrics
        for reason, n in Counter(d.reason for d in dead).items():
            m.rejected.labels(reason).inc(n)
        kinds = Counter(
            pl["type"] if k == EventKind.ALERT else k for k, pl in events if k != EventKind.REJECTED
        )
        for kind, n in kinds.items():
            if kind in _RECORD_KINDS:
                m.events.labels(kind).inc(n)
            else:
                m.alerts.labels(kind).inc(n)

    def _rebuild(self, p: int, event: Any) -> PartitionRun:
        """The partition's state before the failed batch: its checkpoint, then the records
        processed since (the engine is deterministic and does not depend on how records are
        batched, so this is the state those batches left; their outputs were already sent)."""
        run = self._load(p, event)
        earlier = self.pending.get(p)
        if earlier is not None and earlier.run is self.runs.get(p):
            run_step(self.ctx, self.partitions, run, earlier.sources, Step(run, event))
            run.next_offset = earlier.sources[-1].offset + 1 if earlier.sources else run.next_offset
            earlier.run = run
        return run

    def _defer(self, step: Step) -> None:
        p = step.run.partition
        earlier = self.pending.get(p)
        if earlier is not None and earlier.generation == step.generation:
            step.absorb(earlier)
        self.pending[p] = step

    async def _save_due(self, owned: Callable[[int], bool], force: bool = False) -> None:
        for p in [p for p in self.received if p not in self.pending]:
            await self._ack_covered(p)  # skipped re-deliveries: already in the checkpoint
        now = self.clock()
        every = self.checkpoint_every_s
        due = [p for p in self.pending if force or now - self.saved_at.get(p, -math.inf) >= every]
        if not due:
            return
        unacked, self.unacked = self.unacked, []
        try:
            await asyncio.wait_for(asyncio.gather(*unacked), DELIVERY_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - outputs may be lost: redo from the checkpoints
            self.metrics.errors.inc()
            log.exception("outputs not acknowledged; partitions %s redo from their checkpoints",
                          sorted(self.pending))  # fmt: skip
            self.reset(list(self.pending))
            return
        for p in due:
            step = self.pending.pop(p, None)
            if step is None:
                continue
            self.saved_at[p] = now
            written = self._save(step, owned)
            if written is None:
                continue
            try:
                await asyncio.wait_for(asyncio.gather(*written), DELIVERY_TIMEOUT_S)
            except Exception:  # noqa: BLE001 - not durable: redo from the last durable one
                self.metrics.errors.inc()
                log.exception("partition %d: checkpoint not written; reloading", p)
                self.reset([p])
                continue
            self.durable[p] = step.run.next_offset
            await self._ack_covered(p)

    async def _ack_covered(self, p: int) -> None:
        """Ack the partition's events whose offsets its durable checkpoint covers."""
        limit = self.durable.get(p)
        received = self.received.get(p)
        if limit is None or not received:
            return
        self.received[p] = [(o, e) for o, e in received if o >= limit]
        if self.ack is not None:
            for offset, event in received:
                if offset < limit:
                    await self.ack(event)

    def assigned(self, partitions) -> None:
        """Partitions just assigned: their idle time starts now (see :meth:`behind`)."""
        now = self.clock()
        for p in partitions:
            self.seen[p] = now

    def behind(self, p: int, log_end: int | None, idle_s: float) -> bool:
        """True when partition ``p`` has records in Kafka (``log_end``, the next offset to be
        written) that its state has not seen, and no record of it came for ``idle_s``: Faust
        resumed past the checkpoint and the input has stopped, so no record will come to
        reveal the gap (the worker then sends a nudge record)."""
        if not log_end:
            return False
        run = self.runs.get(p)
        known = run.next_offset if run is not None else -1
        return log_end > max(known, 0) and self.clock() - self.seen.get(p, -math.inf) >= idle_s

    def _run(self, p: int, group: list[Source]) -> PartitionRun:
        run = self.runs.get(p)
        if run is None:
            event = next((s.event for s in group if s.event is not None), None)
            run = self.runs[p] = self._load(p, event)
            self.durable[p] = run.next_offset
        return run

    def _load(self, p: int, event: Any) -> PartitionRun:
        meta = self.tables.read(event, meta_key(p))
        run = PartitionRun.load(
            p, meta, lambda vid, slot: self.tables.read(event, vehicle_key(vid, slot))
        )
        log.info("partition %d: state loaded, next offset %d", p, run.next_offset)
        return run

    def _save(self, step: Step, owned: Callable[[int], bool]) -> list[Awaitable] | None:
        p = step.run.partition
        if not owned(p) or self.generation.get(p, 0) != step.generation:
            # Revoked while the outputs were in flight: the new owner redoes the records.
            self.runs.pop(p, None)
            return None
        meta, items = step.run.checkpoint(step.touched, step.everyone)
        items[meta_key(p)] = meta  # last: the meta is only kept with the states it lists
        return self.tables.write(step.event, items)
