"""The archive writer of an embedded run: `landun detect --archive`, `landun demo` (issue 12).

An embedded run numbers its input lines 0, 1, 2, ... (``ingest``, the arrival order) and hands
them to the engine in chunks. :class:`EmbeddedSink` turns that into archive batches
(``replay.writer.write_batch``): one per chunk of lines, its :class:`~replay.layout.SourceRange`
the chunk's first and last line (``s{first}-{last}.parquet``), holding

- one ``pings`` row per non-blank line: a line that did not parse has its ``bad_json`` /
  ``bad_field`` verdict, its raw text and no parsed fields; a ping the engine rejected has the
  hygiene reason and detail; every other ping is ``accepted``;
- the engine events (alerts, trips, stops, fence events) produced since the previous batch;
- in the first batch written, the reference snapshot (``replay.reference.reference_events``
  dated 0: in force over the whole run).

A ping's verdict is known only once the engine has released it: one still in a vehicle's
reorder buffer or limbo when its chunk is processed is decided by a later chunk (or by
``finish``). A chunk is therefore written once none of its pings is still buffered; the chunks
after it do not wait for it. So that a vehicle holding a ping until the end of a long run cannot
pile chunks up in memory, at most :data:`MAX_HELD` chunks wait: beyond that the oldest is
written with its undecided pings' verdict :data:`HELD` (still buffered when archived).

A run stopped before its end (the demo interrupted) calls :meth:`EmbeddedSink.close`: what
was collected goes out, the pings not decided yet marked :data:`HELD`.

Writing is separate from collecting: :meth:`EmbeddedSink.settle` (after each engine call)
queues finished batches, :meth:`EmbeddedSink.write_ready` writes them, and may run in another
thread (the demo writes from a worker thread every few seconds).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from replay.layout import SourceRange
from replay.rows import ACCEPTED, EVENT_TABLES, ping_row
from replay.writer import write_batch
from stream.engine import EngineState, EventKind
from stream.ping import Ping
from stream.wire_values import PingError

log = logging.getLogger("replay.embedded")

MAX_HELD = 8  # chunks waiting for a buffered ping's verdict before the oldest is written anyway
HELD = "held"  # the verdict of a ping still in the engine's buffers when its chunk was written
_ARCHIVED = frozenset(k for k in EVENT_TABLES if k in {e.value for e in EventKind})


@dataclass
class _Chunk:
    """Lines ``first``..``last`` (ingest numbers) and their ``pings`` rows, by ingest."""

    first: int
    last: int = -1
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass
class SinkCounts:
    """What the sink has written, for summaries and tests."""

    batches: int = 0
    rows: int = 0
    held: int = 0  # pings written with the verdict ``held`` (MAX_HELD exceeded)
    late: int = 0  # verdicts that came after their chunk was written (should stay 0)


class EmbeddedSink:
    """Collects an embedded run's lines, verdicts and events into archive batches.

    Parameters
    ----------
    archive : path
        The archive directory.
    snapshot : iterable of (kind, payload)
        The reference snapshot (``replay.reference.reference_events(..., 0)``): goes into the
        first batch written.
    ref_base : int
        ``Ping.ref`` of ingest number 0: the engine's rejections name pings by ``ref``
        (``landun detect`` refs are 1-based line numbers, the demo's 0-based arrivals).
    lines_per_batch : int
        A chunk is closed at a :meth:`settle` once it holds at least this many lines (1: every
        settle closes one, as ``landun detect`` does with its engine chunks).
    """

    def __init__(
        self,
        archive: str | os.PathLike,
        snapshot: Iterable[tuple[str, dict]] = (),
        *,
        ref_base: int = 0,
        lines_per_batch: int = 1,
    ):
        self.archive = archive
        self.ref_base = ref_base
        self.lines_per_batch = lines_per_batch
        self.counts = SinkCounts()
        self._snapshot: list[tuple[str, dict]] = list(snapshot)
        self._open: _Chunk | None = None
        self._held: list[_Chunk] = []  # closed, waiting for verdicts, oldest first
        self._events: list[tuple[str, dict]] = []
        self._ready: list[tuple[SourceRange, list[dict], list[tuple[str, dict]]]] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._collect = threading.RLock()  # line/settle/close: the demo may close from the loop
        self._done = False
        self._last_line = -1  # the last line given
        self._settled = -1  # the last line given before the latest settle: handed to the engine

    def line(
        self, ingest: int, raw: str, ping: Ping | None = None, error: PingError | None = None
    ) -> None:
        """One non-blank input line: its parsed ping (verdict ``accepted`` until the engine
        rejects it) or the parse error (``bad_json`` / ``bad_field``)."""
        if ping is not None:
            row = ping_row(ping, ACCEPTED, raw=raw, ingest=ingest)
        else:
            reason = error.reason if error is not None else "bad_json"
            detail = error.detail if error is not None else None
            vehicle = error.vehicle if error is not None else None
            row = ping_row(None, reason, raw=raw, detail=detail, ingest=ingest, vehicle=vehicle)
        with self._collect:
            if self._open is None:
                self._open = _Chunk(ingest)
            self._open.last = self._last_line = ingest
            self._open.rows[ingest] = row

    def settle(self, events: Iterable, states: EngineState | None, final: bool = False) -> None:
        """After an engine call: take its verdicts and events, queue the chunks now decided.

        Parameters
        ----------
        events : iterable of (kind, payload)
            What the engine call returned.
        states : EngineState or None
            The engine state after it (its buffers say which pings are undecided); None or
            ``final`` after ``finish``: every ping is decided.
        final : bool
            The run is over: everything goes out, these events in the last batch.
        """
        with self._collect:
            self._settled = self._last_line
            self._settle(events, states, final)

    def close(self, states: EngineState | None) -> None:
        """The run stops before its end (the demo interrupted): everything collected goes out,
        each ping the engine has not decided (still buffered, or not yet handed to it) with the
        verdict :data:`HELD`. Then :meth:`write_ready` writes it all."""
        with self._collect:
            undecided = set() if states is None else _buffered(states, self.ref_base)
            for chunk in (*self._held, self._open):
                for i, row in (chunk.rows if chunk is not None else {}).items():
                    if (i in undecided or i > self._settled) and row["verdict"] == ACCEPTED:
                        row["verdict"], row["detail"] = HELD, "still buffered when the run stopped"
                        self.counts.held += 1
            self._settle([], None, final=True)

    def _settle(self, events: Iterable, states: EngineState | None, final: bool) -> None:
        self._take(events)
        chunk = self._open
        if chunk is not None and (final or len(chunk.rows) >= self.lines_per_batch):
            self._held.append(chunk)
            self._open = None
        waiting = set() if final or states is None else _buffered(states, self.ref_base)
        keep: list[_Chunk] = []
        for held in self._held:
            if any(held.first <= i <= held.last for i in waiting):
                keep.append(held)
            else:
                self._queue(held)
        while len(keep) > MAX_HELD:
            oldest = keep.pop(0)
            for i in waiting:
                row = oldest.rows.get(i)
                if row is not None:
                    row["verdict"], row["detail"] = HELD, "still buffered by the engine"
                    self.counts.held += 1
            self._queue(oldest)
        self._held = keep
        if final:
            with self._lock:
                self._done = True
                if self._ready:  # the run's last events go with its last batch (kept unwritten)
                    self._ready[-1][2].extend(self._take_events())
                elif self._events or self._snapshot:  # no line at all: the snapshot still goes in
                    self._ready.append((SourceRange(0, 0), [], self._take_events()))

    def write_ready(self) -> int:
        """Write the queued batches (durably); returns how many. Safe from another thread.

        Until the run is over (:meth:`settle` with ``final``) the newest batch stays queued: the
        events of ``finish`` join it, so a range is never written twice.
        """
        written = 0
        with self._write_lock:
            while True:
                with self._lock:
                    if len(self._ready) <= (0 if self._done else 1):
                        return written
                    source, rows, events = self._ready.pop(0)
                write_batch(self.archive, source, rows, events)
                self.counts.rows += len(rows)
                self.counts.batches += 1
                written += 1

    def _take(self, events: Iterable) -> None:
        for kind, payload in events:
            if kind == EventKind.REJECTED:
                self._reject(payload)
            elif kind in _ARCHIVED:
                self._events.append((kind, payload))

    def _reject(self, payload: dict) -> None:
        ref = payload.get("ref")
        if ref is None:
            return
        ingest = ref - self.ref_base
        for chunk in (self._open, *self._held):
            if chunk is not None and chunk.first <= ingest <= chunk.last:
                row = chunk.rows.get(ingest)
                if row is not None:
                    row["verdict"], row["detail"] = payload["reason"], payload.get("detail")
                return
        self.counts.late += 1
        log.warning("archive: verdict %s for line %d after its batch was written",
                    payload.get("reason"), ingest)  # fmt: skip

    def _queue(self, chunk: _Chunk) -> None:
        source = SourceRange(chunk.first, chunk.last)
        rows = [chunk.rows[i] for i in sorted(chunk.rows)]
        with self._lock:
            self._ready.append((source, rows, self._take_events()))

    def _take_events(self) -> list[tuple[str, dict]]:
        out = self._snapshot + self._events
        self._snapshot, self._events = [], []
        return out


def _buffered(states: EngineState, ref_base: int) -> set[int]:
    """Ingest numbers of the pings still in a reorder buffer or a limbo: not yet decided."""
    out: set[int] = set()
    for vs in states.vehicles.values():
        for p, _ in vs.pending:
            if p.ref is not None:
                out.add(p.ref - ref_base)
        for entry in vs.limbo:
            if entry[1].ref is not None:
                out.add(entry[1].ref - ref_base)
    return out
