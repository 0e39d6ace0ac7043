"""A replayed file's records carry the median event time of their pings (issue 11) in their
``landun-received`` header: the worker takes it as the pings' ``received`` when they have none (a
wall-clock stamp would reject a past night as too old). The record timestamp stays the send
time, because the broker's retention reads it (issue 12: a past night's records were deleted
before the archive consumer read them)."""

from __future__ import annotations

import orjson
import pytest

from stream.kafka.producer import PingSender
from stream.kafka.records import RECEIVED_HEADER, received_seconds
from stream.kafka.topics import Topics

T0 = 1_748_869_200_000  # 2025-06-02T21:00:00+08:00


class Recorder:
    """Stands in for KafkaProducer.send: keeps what would be sent."""

    def __init__(self):
        self.sent: list[dict] = []

    def send(self, topic, key=None, value=None, partition=None, timestamp_ms=None, headers=None):
        stamp = dict(headers or ()).get(RECEIVED_HEADER)
        self.sent.append(
            {
                "value": value,
                "partition": partition,
                "timestamp_ms": timestamp_ms,
                "received": None if stamp is None else int(stamp),
            }
        )


def line(ts, vehicle="V1") -> bytes:
    return orjson.dumps({"vehicle": vehicle, "ts": ts, "lat": 31.5, "lng": 120.3})


@pytest.mark.parametrize(
    ("times", "stamp"),
    [
        ([T0, T0 + 10_000, T0 + 20_000], T0 + 10_000),
        # one clock two days ahead cannot move the stamp: it stays a future ping
        ([T0, T0 + 10_000, T0 + 2 * 86_400_000], T0 + 10_000),
        (["2025-06-02T21:00:00+08:00", T0 + 5_000, T0 + 9_000], T0 + 5_000),
        (["not a time", T0 + 5_000, T0 + 9_000], T0 + 9_000),
    ],
)
def test_a_batch_is_stamped_with_its_median_event_time(times, stamp):
    rec = Recorder()
    sender = PingSender(rec, Topics("t"), 1, batch_pings=10, stamp_event_time=True)
    sender.send_lines(line(t) for t in times)
    sender.send_open()
    assert [r["received"] for r in rec.sent] == [stamp]
    assert [r["timestamp_ms"] for r in rec.sent] == [None]  # the broker's clock: retention


def test_a_single_ping_record_carries_its_own_time():
    rec = Recorder()
    sender = PingSender(rec, Topics("t"), 1, batch_pings=1, stamp_event_time=True)
    sender.send_line(line(T0))
    assert [(r["received"], r["timestamp_ms"]) for r in rec.sent] == [(T0, None)]


def test_without_the_option_kafka_stamps_the_record():
    rec = Recorder()
    sender = PingSender(rec, Topics("t"), 1, batch_pings=10)
    sender.send_lines(line(t) for t in (T0, T0 + 1))
    sender.send_open()
    assert [(r["received"], r["timestamp_ms"]) for r in rec.sent] == [(None, None)]


@pytest.mark.parametrize(
    ("headers", "timestamp_s", "expected"),
    [
        ({RECEIVED_HEADER: str(T0).encode()}, 1_796_550_000.0, T0 / 1000),
        ({}, 1_796_550_000.0, 1_796_550_000.0),
        ({RECEIVED_HEADER: b"-5"}, 1_796_550_000.0, 1_796_550_000.0),
        ({RECEIVED_HEADER: b"x"}, None, None),
    ],
)
def test_the_worker_takes_the_header_over_the_record_timestamp(headers, timestamp_s, expected):
    assert received_seconds(headers, timestamp_s) == expected
