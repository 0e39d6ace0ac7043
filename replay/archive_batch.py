"""One batch of the archive consumer: a topic-partition's records into archive files (issue 12).

:class:`replay.consumer.Archiver` decides *when* a batch is written and commits its offsets;
this module decides *what* it writes: ping rows with their verdicts (``replay.ping_records``),
events and reference versions (``replay.topic_events``), and the records that make no row with
their reason (``replay.refused``). Files are named after the batch's offsets
(``replay.layout.SourceRange``), so writing a batch again after a crash rewrites the same files.
"""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass, field
from typing import Any

from replay.archive_metrics import ArchiveMetrics
from replay.layout import SourceRange
from replay.ping_records import received_ms, record_rows, text_of
from replay.refused import write_refused
from replay.rows import ping_row
from replay.topic_events import (
    Refused,
    alert_event,
    check_rows,
    engine_event,
    fence_version,
    registry_version,
)
from replay.verdicts import DeadLetterBook
from replay.writer import write_batch
from stream.kafka.records import CONTROL_HEADER, received_seconds
from stream.kafka.reference import ReferenceBook

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Batch:
    """Records of one topic-partition read and not yet written."""

    records: list = field(default_factory=list)
    size: int = 0  # pings (pings topic) or records
    since: float = 0.0  # clock() when its first record was read


class BatchWriter:
    """Writes a batch of one topic-partition (one file per table and day).

    Parameters
    ----------
    archive : path
        The archive directory.
    book : DeadLetterBook
        The worker's dead letters read so far: a ping's verdict.
    reference : ReferenceBook
        Fences and registry as read so far: a reference record's version.
    metrics : ArchiveMetrics
        Counted here: ping rows by verdict, records archived or refused, batches written.
    """

    def __init__(
        self, archive, book: DeadLetterBook, reference: ReferenceBook, metrics: ArchiveMetrics
    ):
        self.archive, self.book, self.reference, self.metrics = archive, book, reference, metrics

    def write(self, kind: str, partition: int, records: list, partitions: int) -> None:
        """Write ``records`` (offsets ascending) of the ``kind`` topic's ``partition``;
        ``partitions`` is the pings topic's partition count. Raises when a write fails
        (nothing is counted then: the caller retries the same batch)."""
        source = SourceRange(records[0].offset, records[-1].offset, partition)
        rows: list[dict[str, Any]] = []
        made: list[tuple[Any, list[tuple[str, dict]]]] = []  # (record, its events)
        refused: list[dict[str, Any]] = []
        for rec in records:
            if _control(rec):
                continue  # a worker's control record (end of input, nudge): no ping in it
            if kind == "pings":
                rows += self._rows(partition, rec, partitions)
                continue
            out, why = self._events(kind, rec)
            if why is not None:  # kept with its reason; a refused reference entry still
                refused.append(_refused_item(rec, why))  # counts as a removal (its events)
            if out:
                made.append((rec, out))
        events = [e for _, out in made for e in out]
        if events and check_rows(events) is not None:  # find the culprits, record by record
            events = []
            for rec, out in made:
                why = check_rows(out)
                if why is None:
                    events += out
                else:
                    refused.append(_refused_item(rec, why))
        if kind != "pings":
            refused.sort(key=lambda item: item["offset"])
            write_refused(self.archive, kind, source, refused)
        write_batch(self.archive, source, rows, events)
        if kind == "pings":
            self.book.archived(partition, source.last + 1)
            for verdict, n in collections.Counter(row["verdict"] for row in rows).items():
                self.metrics.pings.labels(verdict).inc(n)
        self.metrics.records.labels(kind, "archived").inc(len(records) - len(refused))
        self.metrics.records.labels(kind, "refused").inc(len(refused))
        self.metrics.batches.labels("written").inc()

    def _rows(self, partition: int, rec, partitions: int) -> list[dict[str, Any]]:
        letters = self.book.get(partition, rec.offset)
        try:
            return record_rows(partition, rec.offset, rec.value, _received(rec), partitions,
                               letters)  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - a bug meeting a record: keep it, say why
            log.exception("archive: pings record %d:%d kept unparsed", partition, rec.offset)
            detail = f"{type(exc).__name__}: {exc}"
            return [ping_row(None, "archive_error", raw=text_of(rec.value), detail=detail,
                             partition=partition, offset=rec.offset, index=0,
                             received=received_ms(_received(rec)))]  # fmt: skip

    def _events(self, kind: str, rec) -> tuple[list[tuple[str, dict]], Refused | None]:
        if kind == "alerts":
            return alert_event(rec.value)
        if kind == "events":
            return engine_event(rec.value)
        if kind == "fences":
            return fence_version(self.reference, rec.key, rec.value, rec.timestamp)
        return registry_version(self.reference, rec.key, rec.value, rec.timestamp)


def pings_in(value: bytes | None) -> int:
    """About how many pings a record holds (its batch size; exact for ordinary records)."""
    return max(1, value.count(b'"vehicle"')) if value else 1


def _control(rec) -> bool:
    return any(k == CONTROL_HEADER for k, _ in rec.headers or ())


def _refused_item(rec, why: Refused) -> dict[str, Any]:
    return {
        "topic": rec.topic,
        "partition": rec.partition,
        "offset": rec.offset,
        "timestamp": rec.timestamp,
        "key": None if rec.key is None else text_of(rec.key),
        "value": None if rec.value is None else text_of(rec.value),
        "reason": why.reason,
        "detail": why.detail,
    }


def _received(rec) -> float | None:
    """A pings record's receive time in epoch ms as the worker takes it: the ``landun-received``
    header (``landun ingest``) or the record timestamp (stream.kafka.records.received_seconds)."""
    if rec.timestamp is None:
        return None
    seconds = received_seconds(dict(rec.headers or ()), rec.timestamp / 1000.0)
    return None if seconds is None else seconds * 1000.0
