"""JT/T 808 framing: 0x7E flags, 0x7D escaping, the XOR checksum and a stream splitter (issue 14).

On the wire a frame is ``7E | escaped(header + body + checksum) | 7E`` where escaping turns 0x7E
into 7D 02 and 0x7D into 7D 01, and the checksum is the XOR of every header and body byte
(taken unescaped). :class:`FrameSplitter` turns a TCP byte stream into frames; :func:`unescape`
and :func:`checksum` are the first steps of decoding one; :func:`build` makes one.
"""

from __future__ import annotations

from gateway.errors import CodecError

FLAG = 0x7E
ESC = 0x7D
_FLAG_B, _ESC_B = b"\x7e", b"\x7d"
# The longest legal frame: a 2019 subpackage header (21) + the largest body (1023) + checksum,
# every byte escaped, plus the two flags (PROTOCOL.md 1.7).
MAX_FRAME = 2 * (21 + 1023 + 1) + 2


def checksum(data: bytes) -> int:
    """XOR of every byte of ``data``.

    Folds the bytes as one big integer (log2(n) big-int operations instead of a Python loop
    per byte: the decoder's hot path, issue 14 bench target).
    """
    n = len(data)
    if n == 0:
        return 0
    x = int.from_bytes(data, "big")
    while n > 1:
        half = n >> 1
        shift = 8 * (n - half)
        x = (x >> shift) ^ (x & ((1 << shift) - 1))
        n -= half
    return x


def escape(payload: bytes) -> bytes:
    """Escape 0x7D then 0x7E (the order matters: 7E's escape contains 7D)."""
    if ESC in payload:
        payload = payload.replace(_ESC_B, b"\x7d\x01")
    if FLAG in payload:
        payload = payload.replace(_FLAG_B, b"\x7d\x02")
    return payload


def unescape(data: bytes, lenient: bool = False) -> bytes:
    """Undo :func:`escape` on the bytes between the flags (which must not contain 0x7E).

    Parameters
    ----------
    data : bytes
        The escaped frame content, flags stripped.
    lenient : bool
        Accept a bare 0x7D as the last byte: some terminals do not escape a 0x7D checksum
        (PROTOCOL.md N5). Strictly that is ``bad_escape``.

    Raises
    ------
    CodecError
        ``bad_escape`` when 0x7D is followed by anything but 0x01 or 0x02.
    """
    if ESC not in data:
        return data
    out = data.replace(b"\x7d\x02", _FLAG_B)
    out = out.replace(b"\x7d\x01", _ESC_B) if b"\x7d\x01" in out else out
    # A 7D still present after both replacements marks a bad sequence, unless it was produced
    # by unescaping 7D 01: count the 7Ds that were escapes of 7D and compare.
    bad = _stray_escape(data)
    if bad is not None:
        if lenient and bad == len(data) - 1:
            return out
        raise CodecError(
            "bad_escape", f"0x7D followed by {data[bad + 1 : bad + 2].hex() or 'the end'} at {bad}"
        )
    return out


def _stray_escape(data: bytes) -> int | None:
    """Index of the first 0x7D not followed by 0x01 or 0x02, or None."""
    i = data.find(_ESC_B)
    while i != -1:
        nxt = data[i + 1 : i + 2]
        if nxt != b"\x01" and nxt != b"\x02":
            return i
        i = data.find(_ESC_B, i + 2)
    return None


def build(payload: bytes) -> bytes:
    """The wire frame for an unescaped header + body: checksum appended, escaped, flagged."""
    return _FLAG_B + escape(payload + bytes((checksum(payload),))) + _FLAG_B


class FrameSplitter:
    """Cuts a TCP byte stream into frames: one per run of bytes between two 0x7E flags.

    Bytes before the first flag of a connection are garbage (Traccar's ``24 24`` prefix) and are
    skipped; empty runs (``7E 7E``) are skipped. A run longer than ``max_frame`` is dropped and
    reported as ``too_long``, and the splitter skips to the next flag, so memory stays bounded
    whatever a client sends. Pure: no I/O, no clock.

    Attributes
    ----------
    skipped : int
        Bytes dropped so far: before the first flag, and those of over-long frames.
    """

    __slots__ = ("max_frame", "skipped", "_buf", "_open", "_dropping")

    def __init__(self, max_frame: int = MAX_FRAME):
        self.max_frame = max_frame
        self.skipped = 0
        self._buf = bytearray()
        self._open = False  # a flag was seen: bytes now belong to a frame
        self._dropping = False  # inside an over-long frame: discard to the next flag

    def feed(self, data: bytes) -> list[bytes | CodecError]:
        """Take the next bytes read; return the frames they complete, in order.

        Each frame is the escaped content between its flags (flags stripped): pass it to
        :func:`gateway.messages.decode_frame`. An over-long frame is returned as a
        :class:`CodecError` (``too_long``) in its place; the caller may drop the connection.
        """
        out: list[bytes | CodecError] = []
        start = 0
        n = len(data)
        while start < n:
            i = data.find(_FLAG_B, start)
            end = n if i == -1 else i
            if not self._open or self._dropping:
                self.skipped += end - start
            else:
                self._buf += data[start:end]
                if len(self._buf) > self.max_frame:
                    out.append(CodecError("too_long", f"frame longer than {self.max_frame} bytes"))
                    self.skipped += len(self._buf)
                    self._buf.clear()
                    self._dropping = True
            if i == -1:
                break
            # A flag: it closes the current run and opens the next one.
            if self._open and not self._dropping and self._buf:
                out.append(bytes(self._buf))
            self._buf.clear()
            self._open, self._dropping = True, False
            start = i + 1
        return out

    @property
    def pending(self) -> int:
        """Bytes held for a frame not yet closed (for idle/slowloris accounting)."""
        return len(self._buf)
