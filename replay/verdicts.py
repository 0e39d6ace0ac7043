"""The worker's verdicts on pings, from its dead letters, by the record they name (issue 12).

A ping the worker read is ``accepted`` unless it was dead-lettered to ``{ns}.pings.rejected``
(``stream.kafka.outputs``). A dead letter names its pings record in the ``landun-source``
header (``topic:partition:offset``) and carries ``landun-reason`` and ``landun-detail``; three
kinds exist, told apart by ``landun-index`` and by its value (the body):

- with ``landun-index``: one ping of a batch record that did not decode (``bad_field``,
  ``misrouted``...): the verdict of the ping at that index;
- without an index, for a single-ping record: the record's one ping (a decode failure or an
  engine rejection; the body is the record's bytes);
- without an index, for a batch record: either the whole record (it did not decode at all, or
  ``engine_error``: the body is the record's bytes, a JSON array or not JSON) or *one ping the
  engine rejected* (hygiene: ``filter_duplicate``...; the body is that ping's parsed JSON, an
  object). The worker does not know the ping's index there (the engine's rejection carries the
  ping, not its place in the record), so the ping is found again by its vehicle, time and
  position (:func:`ping_key`); among identical pings of one record the rejection goes to the
  last ones (the duplicate filter keeps the first).

The worker re-sends a batch's dead letters when it redoes records after a crash, so the same
letter can come twice. Letters with an index or for the whole record replace each other. For
engine rejections by content a copy cannot be told from a second identical ping's rejection by
its content: the copies are told apart by when they were produced. One pass of the worker sends
a record's dead letters within milliseconds; a redo comes seconds later (a restart, a rebalance,
a delivery timeout). The letters of a record are grouped into passes (:data:`PASS_GAP_MS`) and
the pass with the most letters is the record's verdicts (a pass cut short by a crash has fewer).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from stream.kafka.outputs import headers_dict
from stream.ping import Ping

# Dead letters of one record further apart than this are from different passes of the worker
# (issue 12: a redo after a crash or a rebalance takes seconds; one pass sends in milliseconds).
PASS_GAP_MS = 1_000


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why the worker rejected a ping (or a record): its reason code and detail."""

    reason: str
    detail: str


@dataclass(slots=True)
class RecordLetters:
    """The dead letters naming one pings record."""

    by_index: dict[int, Verdict] = field(default_factory=dict)
    # Letters without an index: (produced at ms, ping key or None for the record's bytes, why).
    plain: list[tuple[int, bytes | None, Verdict]] = field(default_factory=list)
    # Where each letter sits in the rejected topic: (partition, offset).
    sources: list[tuple[int, int]] = field(default_factory=list)

    def whole(self, single: bool) -> Verdict | None:
        """The verdict on the whole record: a letter with the record's bytes as its body (any
        plain letter, for a single-ping record); the latest such letter."""
        found = [v for _, key, v in self.plain if single or key is None]
        return found[-1] if found else None

    def engine_rejections(self) -> list[tuple[bytes, Verdict]]:
        """Rejections of single pings of a batch record: ``(ping key, verdict)`` of the pass
        with the most letters (see the module docstring)."""
        # in the order produced (a stable sort by time keeps the topic's order among equals)
        letters = sorted((x for x in self.plain if x[1] is not None), key=lambda x: x[0])
        passes: list[list[tuple[bytes, Verdict]]] = []
        last = None
        for ts, key, v in letters:
            if last is None or ts - last > PASS_GAP_MS:
                passes.append([])
            passes[-1].append((key, v))
            last = ts
        return max(passes, key=len) if passes else []


def ping_key(vehicle: object, ts: object, lat: object, lng: object) -> bytes:
    """How an engine rejection's ping is found again in its record: vehicle, time, position.

    Both sides go through orjson, so a float reads back bit for bit and NaN is null on both.

    Examples
    --------
    >>> ping_key("V1", 1748869200000, 31.5, 120.25)
    b'["V1",1748869200000,31.5,120.25]'
    """
    return orjson.dumps([vehicle, ts, lat, lng])


def key_of_ping(ping: Ping) -> bytes:
    """:func:`ping_key` of a decoded ping."""
    return ping_key(ping.vehicle, ping.ts, ping.lat, ping.lng)


def _body_key(body: bytes | None) -> bytes | None:
    """The ping key of a dead letter's body when it is one ping's JSON object, else None."""
    if not body or body[:1] != b"{":
        return None
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    return ping_key(obj.get("vehicle"), obj.get("ts"), obj.get("lat"), obj.get("lng"))


def parse_source(text: str) -> tuple[str, int, int] | None:
    """``(topic, partition, offset)`` of a ``landun-source`` header, None when malformed.

    Examples
    --------
    >>> parse_source("landun.pings:3:1207")
    ('landun.pings', 3, 1207)
    >>> parse_source("garbage") is None
    True
    """
    topic, _, rest = text.rpartition(":")
    topic, _, partition = topic.rpartition(":")
    try:
        return topic, int(partition), int(rest)
    except ValueError:
        return None


class DeadLetterBook:
    """Dead letters read from the rejected topic, kept until their pings are archived.

    Parameters
    ----------
    pings_topic : str
        Letters naming another topic are not about pings and are ignored.
    """

    def __init__(self, pings_topic: str):
        self.pings_topic = pings_topic
        self._letters: dict[tuple[int, int], RecordLetters] = {}
        self._floor: dict[int, int] = {}  # pings partition -> offsets below are archived
        self.ignored = 0  # letters naming no pings record of ours (counted, not kept)

    def __len__(self) -> int:
        return len(self._letters)

    def add(
        self,
        headers: Iterable[tuple[str, bytes]] | None,
        value: bytes | None,
        timestamp_ms: int,
        where: tuple[int, int],
    ) -> bool:
        """Keep one record of the rejected topic (``where`` = its partition, offset there).

        Returns False when it names no pings record still to archive (kept nowhere).
        """
        head = headers_dict(headers)
        source = parse_source(head.get("landun-source", ""))
        if source is None or source[0] != self.pings_topic:
            self.ignored += 1
            return False
        _, partition, offset = source
        if offset < self._floor.get(partition, 0):
            return False  # its ping is archived already (a letter read again after a restart)
        verdict = Verdict(head.get("landun-reason", "rejected"), head.get("landun-detail", ""))
        letters = self._letters.get((partition, offset))
        if letters is None:
            letters = self._letters[(partition, offset)] = RecordLetters()
        index = head.get("landun-index")
        if index is not None and index.lstrip("-").isdigit():
            letters.by_index[int(index)] = verdict
        else:
            letters.plain.append((timestamp_ms, _body_key(value), verdict))
        letters.sources.append(where)
        return True

    def get(self, partition: int, offset: int) -> RecordLetters | None:
        """The letters naming pings record ``partition:offset`` (None: every ping accepted)."""
        return self._letters.get((partition, offset))

    def archived(self, partition: int, below: int) -> None:
        """Pings of ``partition`` below offset ``below`` are archived: forget their letters."""
        if below <= self._floor.get(partition, 0):
            return
        self._floor[partition] = below
        for key in [k for k in self._letters if k[0] == partition and k[1] < below]:
            del self._letters[key]

    def oldest(self) -> dict[int, int]:
        """Per partition of the rejected topic, the offset of the oldest letter still kept:
        the consumer never commits that topic past it, so a restart reads it again."""
        out: dict[int, int] = defaultdict(lambda: 1 << 62)
        for letters in self._letters.values():
            for partition, offset in letters.sources:
                if offset < out[partition]:
                    out[partition] = offset
        return dict(out)
