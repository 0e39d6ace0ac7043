"""One partition's share of a micro-batch through the engine: :class:`Step` (what the batch did,
until its checkpoint is written) and :func:`run_step`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stream.engine import EngineContext, finish, process
from stream.kafka.checkpoint import PartitionRun
from stream.kafka.codec import Decoded, decode_records
from stream.kafka.records import Source


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
        earlier.sources.extend(self.sources)
        self.sources = earlier.sources


def run_step(
    ctx: EngineContext, partitions: int, run: PartitionRun, fresh: list[Source], step: Step
) -> tuple[list, Decoded]:
    """Decode ``fresh`` (consecutive records of the partition) and run their pings through the
    engine, ``run.states`` updated; a *final* control record also runs ``finish``, a *nudge*
    carries nothing. Sets ``step.touched`` (vehicles whose state may have changed) and
    ``step.everyone`` (a tick or ``finish`` ran: any vehicle's may have). Returns the events
    and the decoded records (pings, dead letters, raw values by ping)."""
    states = run.states
    # Vehicles whose state was never checkpointed must be written: new ones of an earlier batch
    # not saved yet, or those a checkpoint from before issue 11 gave a state for the pings its
    # fleet-wide limbo held (EngineState.from_dict moves them to their vehicle's limbo).
    step.touched = set(states.vehicles.keys() - run.written.keys())
    tick_before = states.next_tick
    events: list = []
    decoded = Decoded()
    segment: list[Source] = []
    for s in [*fresh, None]:
        if s is not None and s.nudge:
            continue  # takes an offset, carries nothing
        if s is not None and not s.final:
            segment.append(s)
            continue
        part = decode_records(((x.partition, x.offset, x.value) for x in segment), partitions)
        stamp_received(part.pings, segment)
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
    step.touched |= {pl["vehicle"] for kind, pl in events if kind != "rejected"}
    step.everyone |= states.next_tick != tick_before
    return events, decoded


def stamp_received(pings: list, records: list[Source]) -> None:
    """Stamp ``received`` on pings that carry none: their record's timestamp, in epoch ms.

    The clock checks use it as the reference time (issue 11; the gateway will stamp pings
    itself). A ping's ``ref`` is its record's offset. The stamp is part of the record, so a
    state rebuilt from re-read records (``stream.kafka.gaps``, a restart) judges the same way.
    """
    stamps = {s.offset: s.timestamp for s in records if s.timestamp is not None}
    if not stamps:
        return
    for p in pings:
        if p.received is None:
            t = stamps.get(p.ref)
            if t is not None:
                p.received = round(t * 1000)
