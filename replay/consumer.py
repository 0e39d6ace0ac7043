"""The archive consumer: the production stream into the archive, durably, once (issue 12).

``landun archive`` runs one :class:`Archiver`. It reads, as the consumer group
``{ns}-archive`` (its committed offsets; a new group starts at the topics' beginning):

=====================  =================================================================
topic                  archive tables
=====================  =================================================================
``{ns}.pings``         ``pings`` (every ping, with its verdict) and ``cells``
``{ns}.pings.rejected`` (the worker's dead letters: the verdicts, ``replay.verdicts``)
``{ns}.alerts``        ``alerts`` (every version)
``{ns}.events``        ``trips``, ``stops``, ``fence_events``
``{ns}.fences``        ``fences`` (versions dated by the record timestamp)
``{ns}.registry``      ``registry`` (the same)
=====================  =================================================================

Pings wait for their verdicts: a record of pings partition ``p`` is archived only below the
worker's durable checkpoint of ``p`` (``replay.watermark``), and only once the rejected topic has
been read up to its end as it was *after* that watermark was read, so every dead letter the
worker sent for it is in hand.

Per topic-partition, records are buffered up to ``batch`` pings/records or ``linger_s``
seconds (or until the input is idle), then one batch is written
(``replay.writer.write_batch``, files named ``p{partition}-{first}-{last}`` after the offsets),
then its offsets are committed, then ``DIR/_committed.json`` is rewritten
(``replay.committed``). The rejected topic is committed only up to its oldest dead letter whose
ping is not archived yet, in a commit after the others': a restart reads that letter again
before the ping. A crash anywhere redelivers from the committed offsets and rewrites the same
files (the writer drops overlapping leftovers): no row lost, none twice.

A record that makes no row is kept with its reason (``replay.refused``); a ping record always
makes rows. A failing write (disk full) stops consuming and committing, keeps the batch, and is
retried with a growing backoff; ``landun_archive_write_failing`` says so on /metrics and
``/readyz`` answers 503 meanwhile. One consumer per archive directory (a lock file,
``replay.archive_lock``): two would redo each other's batches.

What a batch turns into (rows, events, refused records) is ``replay.archive_batch``; the
counters are ``replay.archive_metrics``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from replay.archive_batch import Batch, BatchWriter, pings_in
from replay.archive_metrics import ArchiveMetrics
from replay.committed import write_committed
from replay.verdicts import DeadLetterBook
from stream.kafka.reference import ReferenceBook
from stream.kafka.topics import Topics

log = logging.getLogger(__name__)
SOURCES = ("pings", "alerts", "events", "fences", "registry")  # the _committed.json topics
MAX_BACKOFF_S = 30.0


@dataclass(slots=True)
class ArchiveOptions:
    """How the consumer batches and retries.

    Attributes
    ----------
    batch : int
        Most pings (pings topic) or records (other topics) in one batch, i.e. one file per
        table and day.
    linger_s : float
        A batch is written at the latest this long after its first record was read.
    backoff_s : float
        First wait after a failed write or Kafka error (doubles up to 30 s).
    watermark_every_s : float
        How often the worker's checkpoints are read.
    """

    batch: int = 20_000
    linger_s: float = 10.0
    backoff_s: float = 1.0
    watermark_every_s: float = 1.0


class Archiver:
    """Reads the topics and writes the archive, batch by batch (one instance per process).

    Parameters
    ----------
    consumer : kafka.KafkaConsumer
        With ``group_id={ns}-archive``, ``enable_auto_commit=False``,
        ``auto_offset_reset="earliest"``; :meth:`start` assigns it every partition.
    watermark : object
        ``next_offsets() -> {pings partition: offset}`` (``replay.watermark.WorkerWatermark``).
    archive : path
        The archive directory.
    topics : Topics
        The namespace.
    """

    def __init__(
        self,
        consumer,
        watermark,
        archive,
        topics: Topics,
        options: ArchiveOptions | None = None,
        metrics: ArchiveMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.consumer, self.watermark = consumer, watermark
        self.archive, self.topics = archive, topics
        self.options = options or ArchiveOptions()
        self.metrics = metrics or ArchiveMetrics()
        self.clock, self.sleep = clock, sleep
        self.kind = {
            topics.pings: "pings",
            topics.rejected: "rejected",
            topics.alerts: "alerts",
            topics.events: "events",
            topics.fences: "fences",
            topics.registry: "registry",
        }
        self.book = DeadLetterBook(topics.pings)
        self.reference = ReferenceBook()
        self.writer = BatchWriter(archive, self.book, self.reference, self.metrics)
        self.partitions = 0  # of the pings topic
        self.batches: dict[TopicPartition, Batch] = {}
        self.next: dict[TopicPartition, int] = {}  # next offset to buffer
        self.committed: dict[TopicPartition, int] = {}
        self.uncommitted: dict[TopicPartition, int] = {}  # written, commit still to do
        self.allowed: dict[int, int] = {}  # pings partition -> certified worker watermark
        self._candidate: tuple[dict[int, int], dict[TopicPartition, int]] | None = None
        self._watermark_at = -float("inf")
        self._backoff = 0.0
        self.failure: str | None = None  # why writes fail, while they do
        self.progress_at = clock()  # last time anything new happened (idle exit)

    # -- start -------------------------------------------------------------------------------

    def start(self) -> None:
        """Assign every partition of the six topics and read where the group stands."""
        tps = []
        for topic in self.kind:
            found = self.consumer.partitions_for_topic(topic)
            if not found:
                raise KafkaError(f"topic {topic} not found: start a worker or `landun ingest`")
            tps += [TopicPartition(topic, p) for p in sorted(found)]
            if topic == self.topics.pings:
                self.partitions = len(found)
        self.consumer.assign(tps)
        for tp in tps:
            committed = self.consumer.committed(tp)
            self.next[tp] = self.consumer.position(tp)
            self.committed[tp] = committed or 0
            if committed is not None:
                self._gap(tp, committed, self.next[tp])
            elif self.next[tp] > 0 and self.kind[tp.topic] not in ("fences", "registry"):
                log.warning("archive: %s:%d starts at offset %d: the records before it were "
                            "deleted (retention) before this archive's group first read them",
                            tp.topic, tp.partition, self.next[tp])  # fmt: skip
            if self.kind[tp.topic] == "pings":
                self.book.archived(tp.partition, self.next[tp])
                self.allowed[tp.partition] = 0
        self._steer()  # pings wait for the first watermark
        write_committed(self.archive, self._committed_doc())

    # -- the loop ----------------------------------------------------------------------------

    def run(self, stop: Callable[[], bool], idle_exit_s: float | None = None) -> None:
        """Step until ``stop()``, or until nothing new came for ``idle_exit_s``; every batch
        read is written and committed before returning (when writes work)."""
        while not stop():
            if idle_exit_s is not None and self.clock() - self.progress_at >= idle_exit_s:
                break
            try:
                self.step()
            except KafkaError as exc:
                log.warning("archive: Kafka failed (%r); retrying", exc)
                self._wait(str(exc), failing=False)
        self.flush()

    def step(self, timeout_ms: int = 500) -> int:
        """One round: watermark, poll, write what is due, commit. Returns records read."""
        if self.failure is not None and not self._write_due(force=True):
            self._wait(self.failure)
            return 0
        self._refresh_watermark()
        polled = self.consumer.poll(timeout_ms=timeout_ms, max_records=5000)
        n = 0
        for tp, records in polled.items():
            n += self._take(tp, records)
        self._certify()
        self._steer()
        if n:
            self.progress_at = self.clock()
        if self._write_due(force=n == 0):
            self._commit()
            self._backoff = 0.0
        return n

    def flush(self) -> None:
        """Write and commit every batch read (at shutdown)."""
        if self._write_due(force=True):
            self._commit()

    def summary(self) -> dict[str, Any]:
        """What the consumer archived and where its offsets stand (the CLI prints it)."""
        pings = {
            s.labels["verdict"]: int(s.value)
            for m in self.metrics.pings.collect()
            for s in m.samples
            if s.name.endswith("_total")
        }
        return {
            "archive": str(self.archive),
            "group": f"{self.topics.namespace}-archive",
            "pings": pings,
            "committed": {
                k: {str(p): n for p, n in v.items()} for k, v in self._committed_doc().items()
            },
            "failing": self.failure,
        }

    # -- reading -----------------------------------------------------------------------------

    def _refresh_watermark(self) -> None:
        now = self.clock()
        if self._candidate is not None or now - self._watermark_at < self.options.watermark_every_s:
            return
        self._watermark_at = now
        try:
            marks = self.watermark.next_offsets()
        except (KafkaError, TimeoutError, OSError) as exc:  # the changelog slow or away
            log.warning("archive: worker checkpoints not read (%r); pings wait", exc)
            return
        rejected = [tp for tp in self.next if self.kind[tp.topic] == "rejected"]
        # Read after the watermark: every letter for the pings below it is below these ends.
        ends = self.consumer.end_offsets(rejected) if rejected else {}
        self._candidate = (marks, ends)
        for p, mark in marks.items():
            self.metrics.watermark.labels(str(p)).set(mark)

    def _certify(self) -> None:
        """The candidate watermark holds once the rejected topic is read up to its ends."""
        if self._candidate is None:
            return
        marks, ends = self._candidate
        if all(self.next[tp] >= end for tp, end in ends.items()):
            for p, mark in marks.items():
                if mark > self.allowed.get(p, 0):
                    self.allowed[p] = mark
                    self.progress_at = self.clock()
            self._candidate = None

    def _steer(self) -> None:
        """Pause pings partitions at their certified watermark, resume them above it."""
        pause, resume = [], []
        for tp, nxt in self.next.items():
            if self.kind[tp.topic] == "pings":
                (pause if nxt >= self.allowed.get(tp.partition, 0) else resume).append(tp)
        if pause:
            self.consumer.pause(*pause)
        if resume:
            self.consumer.resume(*resume)

    def _take(self, tp: TopicPartition, records: list) -> int:
        kind = self.kind[tp.topic]
        taken = 0
        for rec in records:
            if rec.offset < self.next[tp]:
                continue  # read again after a seek: already buffered
            self._gap(tp, self.next[tp], rec.offset)
            if kind == "pings" and rec.offset >= self.allowed.get(tp.partition, 0):
                self.consumer.seek(tp, rec.offset)  # its verdicts are not all in yet
                break
            self.next[tp] = rec.offset + 1
            taken += 1
            if kind == "rejected":
                self.book.add(rec.headers, rec.value, rec.timestamp, (tp.partition, rec.offset))
                continue
            batch = self.batches.get(tp)
            if batch is None:
                batch = self.batches[tp] = Batch(since=self.clock())
            batch.records.append(rec)
            batch.size += pings_in(rec.value) if kind == "pings" else 1
        self.metrics.letters.set(len(self.book))
        return taken

    def _gap(self, tp: TopicPartition, expected: int, got: int) -> None:
        """Offsets skipped on a topic that is not compacted: its retention deleted them before
        they were archived (the consumer was down too long). Said loudly, never silently."""
        if got > expected and self.kind[tp.topic] not in ("fences", "registry"):
            self.metrics.gaps.labels(self.kind[tp.topic]).inc(got - expected)
            log.error("archive: %s:%d offsets %d..%d are gone (retention) and not archived",
                      tp.topic, tp.partition, expected, got - 1)  # fmt: skip

    # -- writing -----------------------------------------------------------------------------

    def _write_due(self, force: bool) -> bool:
        """Write the batches that are full, old or (``force``) any; False when a write failed
        (the rest wait with it: nothing is committed past a batch not written)."""
        now = self.clock()
        for tp, batch in list(self.batches.items()):
            due = batch.size >= self.options.batch or now - batch.since >= self.options.linger_s
            if not (due or force):
                continue
            try:
                self.writer.write(self.kind[tp.topic], tp.partition, batch.records, self.partitions)
            except Exception as exc:  # noqa: BLE001 - disk full, permissions: wait and retry
                self.metrics.batches.labels("failed").inc()
                if self.failure is None:
                    log.exception("archive: writing %s:%d failed; retrying", tp.topic, tp.partition)
                self.failure = f"{type(exc).__name__}: {exc}"
                self.metrics.failing.set(1)
                return False
            del self.batches[tp]
            self.uncommitted[tp] = batch.records[-1].offset + 1
            self.progress_at = self.clock()  # after the write: a long one is no idle time
        if self.failure is not None:
            log.info("archive: writes work again")
            self.failure, self._backoff = None, 0.0
            self.metrics.failing.set(0)
        return True

    # -- committing --------------------------------------------------------------------------

    def _commit(self) -> None:
        """Commit what is written, then the rejected topic up to its oldest letter still
        needed, then rewrite ``_committed.json``."""
        if not self.uncommitted:
            return
        done = dict(self.uncommitted)
        self.consumer.commit({tp: OffsetAndMetadata(n, "", -1) for tp, n in done.items()})
        for tp, n in done.items():
            self.committed[tp] = n
            if self.uncommitted.get(tp) == n:
                del self.uncommitted[tp]
        oldest = self.book.oldest()
        letters = {}
        for tp, nxt in self.next.items():
            if self.kind[tp.topic] == "rejected":
                n = min(oldest.get(tp.partition, nxt), nxt)
                if n != self.committed.get(tp):
                    letters[tp] = OffsetAndMetadata(n, "", -1)
        if letters:
            self.consumer.commit(letters)
            self.committed.update({tp: o.offset for tp, o in letters.items()})
        write_committed(self.archive, self._committed_doc())

    def _committed_doc(self) -> dict[str, dict[int, int]]:
        doc: dict[str, dict[int, int]] = {name: {} for name in SOURCES}
        for tp, n in self.committed.items():
            kind = self.kind[tp.topic]
            if kind in doc:
                doc[kind][tp.partition] = n
        return doc

    def _wait(self, why: str, failing: bool = True) -> None:
        self._backoff = min(MAX_BACKOFF_S, max(self.options.backoff_s, self._backoff * 2))
        log.warning("archive: %s; next try in %.1f s", why, self._backoff)
        self.sleep(self._backoff)
        if not failing:
            self._rewind()

    def _rewind(self) -> None:
        """After a Kafka error: read again from where the buffers end (nothing is lost)."""
        try:
            for tp, nxt in self.next.items():
                self.consumer.seek(tp, nxt)
        except KafkaError as exc:
            log.warning("archive: cannot seek yet (%r)", exc)
