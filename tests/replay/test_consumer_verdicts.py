"""The archive's verdicts on a pings record from the worker's dead letters (issue 12), record by
record, the way the worker writes them (``stream.kafka.outputs``): no Kafka needed.

Each case is a record as a producer sends it and the letters the worker sent for it; the table
says which pings end up rejected and why."""

from __future__ import annotations

import orjson
import pytest

from replay.ping_records import record_rows, split_array
from replay.verdicts import DeadLetterBook
from stream.ping import Ping

TOPIC = "ns.pings"
T0 = 1748869200000  # 2025-06-02T21:00:00+08:00
STAMP = T0 + 60_000  # the record's timestamp


def ping(n: int, vehicle: str = "V1", **extra) -> bytes:
    """A ping line of ``vehicle``, ``n`` minutes after T0."""
    body = {"vehicle": vehicle, "ts": T0 + n * 60_000, "lat": 31.49 + n / 1000, "lng": 120.31}
    return orjson.dumps({**body, **extra})


def engine_body(line: bytes) -> bytes:
    """What the worker dead-letters for a ping of a batch the engine rejected: its parsed JSON
    (``Ping.to_dict`` with ``received`` stamped from the record, without ``ref``)."""
    obj = orjson.loads(line)
    obj.setdefault("received", STAMP)
    return orjson.dumps(Ping(**obj).to_dict())


def letter(book, offset, reason, *, index=None, body=b"", at=0, where=(0, 0), topic=TOPIC):
    headers = [
        ("landun-reason", reason.encode()),
        ("landun-detail", f"{reason} (test)".encode()),
        ("landun-source", f"{topic}:0:{offset}".encode()),
    ]
    if index is not None:
        headers.append(("landun-index", str(index).encode()))
    return book.add(headers, body, STAMP + at, where)


def batch(*lines: bytes) -> bytes:
    return b"[" + b", ".join(lines) + b"]"


A, B, C = ping(1), ping(2), ping(3)
ISO = b'{"vehicle": "V1", "ts": "2025-06-02T21:02:00+08:00", "lat": 31.49, "lng": 120.31}'
BAD_TS = b'{"vehicle": "V1", "ts": "yesterday", "lat": 31.5, "lng": 120.3}'

# (case, record value, letters as (reason, index, body, ms after the first), verdicts by index)
CASES = [
    ("nothing rejected", batch(A, B, C), [], ["accepted"] * 3),
    (
        "the engine rejects the middle ping of a batch (no index: found by content)",
        batch(A, B, C),
        [("filter_impossible_jump", None, engine_body(B), 0)],
        ["accepted", "filter_impossible_jump", "accepted"],
    ),
    (
        "a ping sent twice in one batch: the duplicate filter keeps the first",
        batch(A, B, A),
        [("filter_duplicate", None, engine_body(A), 0)],
        ["accepted", "accepted", "filter_duplicate"],
    ),
    (
        "the same letter again after the worker redid the record (a restart, 4 s later)",
        batch(A, B, A),
        [
            ("filter_duplicate", None, engine_body(A), 0),
            ("filter_duplicate", None, engine_body(A), 4000),
        ],
        ["accepted", "accepted", "filter_duplicate"],
    ),
    (
        "three copies, two rejected in one pass, the pass redone",
        batch(A, A, A),
        [("filter_duplicate", None, engine_body(A), t) for t in (0, 2, 5000, 5003)],
        ["accepted", "filter_duplicate", "filter_duplicate"],
    ),
    (
        "a pass cut short by a crash (one letter), then the whole pass (two)",
        batch(A, A, A),
        [("filter_duplicate", None, engine_body(A), t) for t in (0, 7000, 7001)],
        ["accepted", "filter_duplicate", "filter_duplicate"],
    ),
    (
        "the engine failed on the batch: the whole record",
        batch(A, B, C),
        [("engine_error", None, batch(A, B, C), 0)],
        ["engine_error"] * 3,
    ),
    (
        "a bad field in a batch: the letter has the index",
        batch(A, BAD_TS, C),
        [("bad_field", 1, BAD_TS, 0)],
        ["accepted", "bad_field", "accepted"],
    ),
    (
        "a single-ping record the engine rejected (the body is the record, ts as sent)",
        ISO,
        [("filter_unknown_vehicle", None, ISO, 0)],
        ["filter_unknown_vehicle"],
    ),
    (
        "a non-finite latitude in a batch (NaN: not JSON, read as the worker reads it)",
        batch(
            A,
            b'{"vehicle": "V1", "ts": %d, "lat": NaN, "lng": 120.3}' % (T0 + 9),
        ),
        [
            (
                "filter_non_finite",
                None,
                b'{"vehicle":"V1","ts":%d,"lat":null,"lng":120.3}' % (T0 + 9),
                0,
            )
        ],
        ["accepted", "filter_non_finite"],
    ),
]


@pytest.mark.parametrize(
    ("value", "letters", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_ping_gets_the_verdict_the_worker_gave(value, letters, want):
    book = DeadLetterBook(TOPIC)
    for reason, index, body, at in letters:
        assert letter(book, 7, reason, index=index, body=body, at=at)
    rows = record_rows(0, 7, value, STAMP, 1, book.get(0, 7))
    assert [r["verdict"] for r in rows] == want
    assert [r["index"] for r in rows] == list(range(len(want)))
    assert {(r["partition"], r["offset"]) for r in rows} == {(0, 7)}
    for row, item in zip(rows, split_array(value) or [value], strict=True):
        assert row["raw"] == item.decode()  # as received, byte for byte
        assert row["detail"] == (
            None if row["verdict"] == "accepted" else f"{row['verdict']} (test)"
        )


def test_parsed_fields_and_received_are_the_workers():
    value = batch(A, ping(4, received=T0 + 5), BAD_TS)
    rows = record_rows(0, 3, value, STAMP, 1, None)
    assert [r["received"] for r in rows] == [STAMP, T0 + 5, STAMP]  # the record's stamp if none
    assert (rows[0]["vehicle"], rows[0]["ts"], rows[0]["lat"]) == ("V1", T0 + 60_000, 31.491)
    assert rows[0]["cell"] is not None
    # The codec's own verdict stands when no letter came (the worker reads with the same codec).
    assert (rows[2]["verdict"], rows[2].get("ts"), rows[2]["vehicle"]) == ("bad_field", None, "V1")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b'{"vehicle": "V', "bad_json"),
        (b"", "empty"),
        (b"[]", "not_a_ping"),
        (b"\xff\xfe not utf-8", "bad_json"),
    ],
)
def test_a_record_that_did_not_decode_is_one_row_without_parsed_fields(value, reason):
    book = DeadLetterBook(TOPIC)
    letter(book, 2, reason, body=value)
    for letters in (book.get(0, 2), None):  # with the worker's letter, or the codec's own reason
        (row,) = record_rows(0, 2, value, STAMP, 1, letters)
        assert (row["verdict"], row.get("ts"), row.get("lat"), row["index"]) == (
            reason,
            None,
            None,
            0,
        )
        assert row["raw"] == value.decode("utf-8", "backslashreplace")
        assert row["received"] == STAMP


def test_a_misrouted_single_ping_keeps_its_vehicle():
    value = ping(1, vehicle="V2")
    (row,) = record_rows(1, 0, value, STAMP, 8, None)  # V2 lives on another of 8 partitions
    assert (row["verdict"], row["vehicle"], row.get("ts")) == ("misrouted", "V2", None)


def test_the_book_keeps_letters_until_their_pings_are_archived():
    book = DeadLetterBook(TOPIC)
    assert not letter(book, 1, "x", topic="ns.alerts")  # another topic's: not about pings
    assert book.ignored == 1
    assert letter(book, 5, "filter_zero", body=A, where=(2, 40))
    assert letter(book, 9, "filter_zero", body=A, where=(2, 41))
    assert letter(book, 12, "filter_zero", body=A, where=(3, 7))
    assert book.oldest() == {2: 40, 3: 7}
    book.archived(0, 10)  # pings below offset 10 are in the archive
    assert book.get(0, 5) is None and book.get(0, 9) is None and book.get(0, 12) is not None
    assert book.oldest() == {3: 7}
    assert not letter(book, 9, "filter_zero", body=A)  # read again after a restart: archived


@pytest.mark.parametrize(
    ("value", "items"),
    [
        (b"[1, 2]", [b"1", b"2"]),
        (
            b' [ {"a": "],\\"{"} ,\n{"b": [1, {"c": 2}]} ] ',
            [b'{"a": "],\\"{"}', b'{"b": [1, {"c": 2}]}'],
        ),
        (b'[{"x": NaN}, {"y": -Infinity}]', [b'{"x": NaN}', b'{"y": -Infinity}']),
        (b"[]", []),
        (b'{"a": [1]}', None),
        (b"[1, 2", None),
    ],
)
def test_split_array_gives_each_item_as_sent(value, items):
    assert split_array(value) == items
