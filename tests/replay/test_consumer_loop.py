"""The archive consumer's loop (issue 12) against an in-memory stand-in for Kafka: pings wait for
the worker's checkpoint and for its dead letters, a failing disk stops the commits and is
retried, the rejected topic is committed only up to the oldest letter still needed, and
``_committed.json`` follows the commits. (The real broker: test_consumer_kafka/kill.)"""

from __future__ import annotations

import errno
from dataclasses import dataclass

import orjson
import pytest
from kafka import TopicPartition

import replay.archive_batch as batch_module
from replay.committed import read_committed
from replay.consumer import ArchiveOptions, Archiver
from stream.kafka.topics import Topics
from tests.replay.stream_archive import table

TOPICS = Topics("ns")
T0 = 1748869200000


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list


class FakeKafka:
    """The consumer API the archiver uses, over lists of records. A poll returns the records of
    one partition, the first ready in ``order``, at most ``per_poll[topic]`` of them: the order
    in which topics are read is as unfavourable as the test makes it, and a fetch may run past
    where the archiver wants to stop, as a real one does."""

    def __init__(self):
        self.logs: dict[TopicPartition, list[Record]] = {}
        for topic in (TOPICS.pings, TOPICS.rejected, TOPICS.alerts, TOPICS.events):
            self.logs[TopicPartition(topic, 0)] = []
        for topic in (TOPICS.fences, TOPICS.registry):
            self.logs[TopicPartition(topic, 0)] = []
        self.pos: dict[TopicPartition, int] = {}
        self.paused: set[TopicPartition] = set()
        self.commits: list[dict[TopicPartition, int]] = []
        self.group: dict[TopicPartition, int] = {}
        self.order: list[str] = []  # topics in the order the test wants them read
        self.per_poll: dict[str, int] = {TOPICS.rejected: 1}
        self.start: dict[TopicPartition, int] = {}  # log start offsets (retention)

    def produce(self, topic, value, headers=(), key=None):
        log = self.logs[TopicPartition(topic, 0)]
        log.append(Record(topic, 0, len(log), T0 + len(log), key, value, list(headers)))
        return len(log) - 1

    # -- the consumer API --
    def partitions_for_topic(self, topic):
        return {tp.partition for tp in self.logs if tp.topic == topic}

    def assign(self, tps):  # from the committed offset, or the log start when it is gone
        self.pos = {tp: max(self.group.get(tp, 0), self.start.get(tp, 0)) for tp in tps}

    def committed(self, tp):
        return self.group.get(tp)

    def position(self, tp):
        return self.pos[tp]

    def pause(self, *tps):
        self.paused |= set(tps)

    def resume(self, *tps):
        self.paused -= set(tps)

    def seek(self, tp, offset):
        self.pos[tp] = offset

    def end_offsets(self, tps):
        return {tp: len(self.logs[tp]) for tp in tps}

    def poll(self, timeout_ms=0, max_records=1):
        ready = [
            tp for tp in self.pos if tp not in self.paused and self.pos[tp] < len(self.logs[tp])
        ]
        ready.sort(key=lambda tp: self.order.index(tp.topic) if tp.topic in self.order else 99)
        if not ready:
            return {}
        tp = ready[0]
        self.pos[tp] = max(self.pos[tp], self.start.get(tp, 0))  # auto_offset_reset=earliest
        n = min(max_records, self.per_poll.get(tp.topic, max_records))
        records = self.logs[tp][self.pos[tp] : self.pos[tp] + n]
        self.pos[tp] += len(records)
        return {tp: records}

    def commit(self, offsets):
        self.commits.append({tp: o.offset for tp, o in offsets.items()})
        self.group.update({tp: o.offset for tp, o in offsets.items()})


class Watermark:
    def __init__(self, kafka: FakeKafka):
        self.kafka, self.mark, self.on_read = kafka, 0, None

    def next_offsets(self):
        if self.on_read is not None:  # what the worker did just before its checkpoint was read
            self.on_read()
            self.on_read = None
        return {0: self.mark}


def ping(n: int) -> bytes:
    return orjson.dumps({"vehicle": "V1", "ts": T0 + n * 10_000, "lat": 31.49, "lng": 120.31})


def letter(kafka: FakeKafka, offset: int, reason: str, body: bytes) -> int:
    headers = [
        ("landun-reason", reason.encode()),
        ("landun-detail", b"test"),
        ("landun-source", f"{TOPICS.pings}:0:{offset}".encode()),
    ]
    return kafka.produce(TOPICS.rejected, body, headers)


@pytest.fixture
def world(tmp_path):
    kafka = FakeKafka()
    mark = Watermark(kafka)
    sleeps: list[float] = []
    options = ArchiveOptions(batch=2, linger_s=0.0, watermark_every_s=0.0)
    archiver = Archiver(kafka, mark, tmp_path, TOPICS, options, sleep=sleeps.append)
    return kafka, mark, archiver, sleeps, tmp_path


def steps(archiver: Archiver, n: int = 30) -> None:
    for _ in range(n):
        archiver.step(timeout_ms=0)


def verdicts(archive) -> dict[int, str]:
    return {r["offset"]: r["verdict"] for r in table(archive, "pings")}


def test_pings_wait_for_the_workers_checkpoint_and_its_dead_letters(world):
    kafka, mark, archiver, _, archive = world
    for n in range(4):
        kafka.produce(TOPICS.pings, ping(n))
    kafka.order = [TOPICS.pings, TOPICS.rejected]  # pings first: the worst case
    archiver.start()
    steps(archiver)
    assert verdicts(archive) == {}  # no checkpoint yet: no verdict is final
    # The worker rejects pings 1 and 2, then checkpoints offsets 0..2: the letters are in Kafka
    # before the checkpoint, the archive reads the checkpoint first, and a letter at a time.
    mark.on_read = lambda: [letter(kafka, n, "filter_zero", ping(n)) for n in (1, 2)]
    mark.mark = 3
    steps(archiver)
    assert verdicts(archive) == {0: "accepted", 1: "filter_zero", 2: "filter_zero"}
    assert read_committed(archive)["pings"] == {0: 3}


def test_a_failing_disk_stops_the_commits_and_is_retried(world, monkeypatch):
    kafka, mark, archiver, sleeps, archive = world
    for n in range(3):
        kafka.produce(TOPICS.pings, ping(n))
    kafka.produce(TOPICS.alerts, orjson.dumps({"id": "a1", "type": "overspeed", "vehicle": "V1",
                                               "ts": T0}))  # fmt: skip
    mark.mark = 3
    archiver.start()
    real = batch_module.write_batch
    failures = [OSError(errno.ENOSPC, "No space left on device")] * 3

    def write_batch(*args, **kwargs):
        if failures:
            raise failures.pop()
        return real(*args, **kwargs)

    monkeypatch.setattr(batch_module, "write_batch", write_batch)
    steps(archiver, 3)
    assert archiver.failure is not None and "No space left" in archiver.failure
    assert archiver.metrics.failing._value.get() == 1
    assert kafka.commits == []  # nothing committed past a batch not written
    assert sleeps and sleeps == sorted(sleeps) and sleeps[-1] > sleeps[0]  # backing off
    steps(archiver)
    assert archiver.failure is None and archiver.metrics.failing._value.get() == 0
    assert sorted(verdicts(archive)) == [0, 1, 2]
    assert len(table(archive, "alerts")) == 1
    assert read_committed(archive)["pings"] == {0: 3}
    assert read_committed(archive)["alerts"] == {0: 1}


def test_the_rejected_topic_is_committed_only_up_to_letters_still_needed(world):
    kafka, mark, archiver, _, archive = world
    for n in range(6):
        kafka.produce(TOPICS.pings, ping(n))
    first = letter(kafka, 1, "filter_zero", ping(1))
    needed = letter(kafka, 4, "filter_zero", ping(4))
    mark.mark = 3  # the worker's checkpoint covers 0..2; ping 4 waits, its letter is read
    archiver.start()
    steps(archiver)
    assert verdicts(archive) == {0: "accepted", 1: "filter_zero", 2: "accepted"}
    rejected = TopicPartition(TOPICS.rejected, 0)
    assert kafka.group[rejected] == needed > first  # a restart reads ping 4's letter again
    pings = TopicPartition(TOPICS.pings, 0)
    order = [tp for commit in kafka.commits for tp in commit]
    assert order.index(pings) < order.index(rejected)  # the letters' commit comes after
    # A restart: a new archiver on the same group reads the letter again before ping 4.
    mark.mark = 6
    again = Archiver(kafka, mark, archive, TOPICS, archiver.options, sleep=lambda s: None)
    again.start()
    steps(again)
    assert verdicts(archive) == {0: "accepted", 1: "filter_zero", 2: "accepted",
                                 3: "accepted", 4: "filter_zero", 5: "accepted"}  # fmt: skip
    assert kafka.group[rejected] == needed + 1


def test_records_that_make_no_row_are_kept_with_their_reason(world):
    kafka, mark, archiver, _, archive = world
    stop = {"event": "stop", "vehicle": "V1", "ts": T0, "ended_ts": T0 + 1, "duration_s": 400}
    kafka.produce(TOPICS.events, orjson.dumps(stop))  # a good one in the same batch
    kafka.produce(TOPICS.events, b'{"event": "trip"}')  # a trip without an id
    kafka.produce(TOPICS.events, b'{"event": "party", "vehicle": "V1"}')
    kafka.produce(TOPICS.fences, b"{not a feature", key=b"F1")
    archiver.start()
    steps(archiver)
    from replay.refused import read_refused

    assert [r["reason"] for r in read_refused(archive, "events")] == ["bad_field", "unknown_event"]
    (fence,) = read_refused(archive, "fences")
    assert (fence["key"], fence["value"], fence["reason"]) == ("F1", "{not a feature", "refused")
    (version,) = table(archive, "fences")  # as the workers treat it: the fence is absent
    assert (version["id"], version["deleted"]) == ("F1", True)
    assert len(table(archive, "stops")) == 1
    assert read_committed(archive)["events"] == {0: 3}


def test_offsets_gone_before_they_were_archived_are_reported(world, caplog):
    kafka, mark, archiver, _, archive = world
    pings = TopicPartition(TOPICS.pings, 0)
    for n in range(8):
        kafka.produce(TOPICS.pings, ping(n))
    kafka.group[pings] = 2  # archived up to 2, then down for longer than the retention
    kafka.start[pings] = 3  # one record gone
    mark.mark = 8
    archiver.start()
    steps(archiver)
    assert sorted(verdicts(archive)) == [3, 4, 5, 6, 7]
    assert archiver.metrics.gaps.labels("pings")._value.get() == 1
    assert "offsets 2..2 are gone" in caplog.text
    # A new group starts at the log start: said, not counted (nothing of it was ever archived).
    fresh = Archiver(kafka, mark, archive, Topics("ns"), archiver.options)
    kafka.group.clear()
    fresh.start()
    assert "starts at offset 3" in caplog.text
    assert fresh.metrics.gaps.labels("pings")._value.get() == 0


def test_offsets_gone_while_running_are_reported(world):
    kafka, mark, archiver, _, archive = world
    pings = TopicPartition(TOPICS.pings, 0)
    for n in range(6):
        kafka.produce(TOPICS.pings, ping(n))
    mark.mark = 2
    archiver.start()
    steps(archiver)
    kafka.start[pings] = 3  # offset 2 deleted by retention while the worker was behind
    mark.mark = 6
    steps(archiver)
    assert sorted(verdicts(archive)) == [0, 1, 3, 4, 5]
    assert archiver.metrics.gaps.labels("pings")._value.get() == 1


def test_idle_exit_counts_from_the_end_of_a_long_write(tmp_path, monkeypatch):
    """`--idle-exit` means nothing new came for that long; a batch that took longer to write
    than that is no idle time (a 300-vehicle night once left every ping unarchived so)."""
    kafka, now = FakeKafka(), [0.0]
    for n in range(3):
        kafka.produce(TOPICS.pings, ping(n))
    kafka.produce(TOPICS.events, orjson.dumps({"event": "stop", "vehicle": "V1", "ts": T0}))
    kafka.order = [TOPICS.events]  # the events first, then the pings
    mark = Watermark(kafka)
    mark.mark = 3
    real = batch_module.write_batch

    def slow_write(*args, **kwargs):
        now[0] += 10.0  # a big batch on a slow disk
        return real(*args, **kwargs)

    monkeypatch.setattr(batch_module, "write_batch", slow_write)
    options = ArchiveOptions(batch=2, linger_s=0.0, watermark_every_s=0.0)
    archiver = Archiver(kafka, mark, tmp_path, TOPICS, options, clock=lambda: now[0])
    archiver.start()

    def stop() -> bool:  # never asked to stop; each round (a poll) takes 0.5 s
        now[0] += 0.5
        return False

    archiver.run(stop, idle_exit_s=5.0)
    assert sorted(verdicts(tmp_path)) == [0, 1, 2]
