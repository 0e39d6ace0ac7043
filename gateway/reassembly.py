"""Subpackage reassembly: a pure state object, time given as an argument (issue 14).

A message longer than one frame comes as ``total`` packets, each with its own consecutive serial
and an index from 1 (PROTOCOL.md 1.2, V14). Packets are grouped by (phone, msg id, total, serial
of packet 1); when every index is in, the bodies are joined in index order. A group that has not
completed ``timeout_ms`` after its first packet expires; :meth:`Reassembler.expire` returns it
with the indices still missing, for a 0x8003 request or a log line. Memory is capped: at most
``max_groups`` open groups (the oldest is expired to make room) and ``max_bytes`` of bodies held
(a message whose parts would pass it is dropped as expired: a header may announce 65,535
packets of 1,023 bytes, and a terminal is not trusted with 64 MiB of the gateway's memory).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.header import Header


@dataclass(slots=True)
class Pending:
    """A message of which some packets have arrived.

    Attributes
    ----------
    phone, msg_id, total, first_serial : the group's key (``first_serial``: packet 1's serial,
        which a 0x8003 retransmission request names).
    started_ms : int
        When its first packet arrived.
    header : Header
        The header of the first packet that came: its version and phone bytes address a 0x8003
        retransmission request (:func:`gateway.encoders.retransmit_request`).
    parts : dict of int to bytes
        Body by index.
    """

    phone: str
    msg_id: int
    total: int
    first_serial: int
    started_ms: int
    header: Header
    parts: dict[int, bytes] = field(default_factory=dict)

    @property
    def missing(self) -> list[int]:
        """Indices not yet received, ascending."""
        return [i for i in range(1, self.total + 1) if i not in self.parts]


@dataclass(slots=True)
class Complete:
    """A reassembled message: the header of its first packet and the joined body."""

    header: Header
    body: bytes


class Reassembler:
    """Joins subpackaged bodies. Pure: the caller passes the time (epoch ms) of each call.

    Parameters
    ----------
    timeout_ms : int
        A group incomplete this long after its first packet expires.
    max_groups : int
        Open groups kept at most (per connection, in the gateway).
    max_bytes : int
        Body bytes held at most, all groups together.
    """

    def __init__(self, timeout_ms: int = 60_000, max_groups: int = 64, max_bytes: int = 1 << 20):
        self.timeout_ms = timeout_ms
        self.max_groups = max_groups
        self.max_bytes = max_bytes
        self.held = 0  # body bytes held now
        self._groups: dict[tuple[str, int, int, int], Pending] = {}

    def add(self, head: Header, body: bytes, now_ms: int) -> tuple[Complete | None, list[Pending]]:
        """Take one packet; return the completed message (or None) and the groups it expired.

        A packet whose index is outside 1..total is ignored (it cannot belong to any message).
        A repeated index replaces the earlier body (a retransmission).
        """
        expired = self.expire(now_ms)
        total, index = head.total or 0, head.index or 0
        if not 1 <= index <= total:
            return None, expired
        first_serial = (head.serial - (index - 1)) & 0xFFFF
        key = (head.phone, head.msg_id, total, first_serial)
        group = self._groups.get(key)
        if group is None:
            if len(self._groups) >= self.max_groups:
                oldest = min(self._groups, key=lambda k: self._groups[k].started_ms)
                expired.append(self._drop(oldest))
            group = Pending(head.phone, head.msg_id, total, first_serial, now_ms, head)
            self._groups[key] = group
        self.held += len(body) - len(group.parts.get(index, b""))
        group.parts[index] = body
        if self.held > self.max_bytes:
            expired.append(self._drop(key))
            return None, expired
        if len(group.parts) < total:
            return None, expired
        self._drop(key)
        first = group.header
        joined = b"".join(group.parts[i] for i in range(1, total + 1))
        whole = Header(
            msg_id=first.msg_id,
            version=first.version,
            phone=first.phone,
            phone_bcd=first.phone_bcd,
            serial=first_serial,
            body_len=len(joined),
            encryption=first.encryption,
            protocol_version=first.protocol_version,
            version_flag=first.version_flag,
            warnings=list(first.warnings),
        )
        return Complete(whole, joined), expired

    def expire(self, now_ms: int) -> list[Pending]:
        """Drop and return the groups whose first packet is ``timeout_ms`` or more old."""
        old = [k for k, g in self._groups.items() if now_ms - g.started_ms >= self.timeout_ms]
        return [self._drop(k) for k in old]

    def _drop(self, key: tuple[str, int, int, int]) -> Pending:
        group = self._groups.pop(key)
        self.held -= sum(map(len, group.parts.values()))
        return group

    def __len__(self) -> int:
        return len(self._groups)
