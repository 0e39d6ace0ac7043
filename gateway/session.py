"""One terminal connection's protocol: frames in, replies and pings out (issue 14).

Pure: no sockets, no clock (the server passes the time each frame was read), so every rule of
the exchange is tested without a network. What a frame asks for comes back as a :class:`Step`:
the reply to write, the pings it carries, and whether the reply may only be written once those
pings are safely in the stream (the terminal keeps its positions buffered until acknowledged,
so acknowledging before Kafka has them would lose them on a crash).

The rules (docs/jt808.md "The gateway"):

- 0x0100 registration -> 0x8100: result 0 and the auth code for a terminal the registry knows by
  ``terminal_phone``; result 4 ("terminal not in the database") for any other, never created.
- 0x0102 authentication -> 0x8001: 0 when the code is the terminal's, else 1 (failure).
- 0x0200 location, 0x0704 batch -> pings, then 0x8001 result 0 after the sink acknowledged them;
  before authentication on this connection: 0x8001 result 1 and no ping.
- 0x0002 heartbeat, 0x0003 logout -> 0x8001 result 0 (a logout then closes the connection).
- 0x0001 terminal response: no reply.
- any other id, or an encrypted body -> 0x8001 result 3 (unsupported).
- a malformed frame whose header was readable -> 0x8001 result 2.

Auth codes are an HMAC of the phone key under the gateway's secret: a terminal that registered
once authenticates on any connection, to any gateway process sharing the secret, after a
restart, without a table to keep.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from typing import Any

from gateway import encoders
from gateway.directory import Directory
from gateway.errors import CodecError
from gateway.header import Header
from gateway.messages import (
    AUTHENTICATE,
    BAD_MESSAGE,
    BATCH,
    FAILURE,
    HEARTBEAT,
    LOCATION,
    LOGOUT,
    OK,
    REG_NO_TERMINAL,
    REG_OK,
    REGISTER,
    TERMINAL_RESPONSE,
    UNSUPPORTED,
    Message,
    decode_body,
    decode_for_terminal,
)
from gateway.reassembly import Reassembler
from gateway.to_ping import to_ping

log = logging.getLogger(__name__)


class AuthCodes:
    """Auth codes as ``HMAC-SHA256(secret, phone key)``, 16 hex digits.

    Examples
    --------
    >>> codes = AuthCodes(b"k")
    >>> codes.check("13900000001", codes.code("13900000001"))
    True
    >>> codes.check("13900000002", codes.code("13900000001"))
    False
    """

    def __init__(self, secret: bytes):
        self._secret = secret

    def code(self, phone: str) -> str:
        """The code issued to ``phone`` (a phone key)."""
        return hmac.new(self._secret, phone.encode(), hashlib.sha256).hexdigest()[:16]

    def check(self, phone: str, code: str) -> bool:
        """True when ``code`` is the one issued to ``phone``."""
        return hmac.compare_digest(self.code(phone), code)


@dataclass(slots=True)
class Step:
    """What one frame asks of the connection.

    Attributes
    ----------
    reply : bytes or None
        The frame to write back (None: no reply).
    pings : list of dict
        Pings for the sink; when there are any, ``reply`` is written only after the sink has
        acknowledged them (never, when it fails: the terminal retransmits).
    close : bool
        Close the connection after the reply (a logout, an over-long frame).
    error : str or None
        The codec's reason for a malformed frame (counted and logged by the server).
    skipped : int
        Positions that decoded but make no ping (no valid time, encrypted coordinates).
    """

    reply: bytes | None = None
    pings: list[dict[str, Any]] = field(default_factory=list)
    close: bool = False
    error: str | None = None
    skipped: int = 0
    msg_id: int | None = None


class Session:
    """The protocol state of one connection.

    Parameters
    ----------
    directory : Directory
        The registered terminals.
    codes : AuthCodes
        Issues and checks auth codes.
    reassembly_timeout_ms : int
        How long a subpackaged message may take to complete.
    """

    def __init__(self, directory: Directory, codes: AuthCodes, reassembly_timeout_ms: int = 60_000):
        self.directory = directory
        self.codes = codes
        self.reassembler = Reassembler(reassembly_timeout_ms)
        self.authenticated: set[str] = set()  # phone keys authenticated on this connection
        self._serial = 0

    def next_serial(self) -> int:
        """The platform's own message counter (starts at 0, wraps at 0xFFFF)."""
        s = self._serial
        self._serial = (s + 1) & 0xFFFF
        return s

    def frame(self, raw: bytes, now_ms: int) -> Step:
        """Handle one frame (the escaped bytes between flags) read at ``now_ms`` (epoch ms)."""
        try:
            msg = decode_for_terminal(raw, self.directory.lenient)
        except CodecError as exc:
            return self.malformed(exc, raw)
        if msg.header.total is not None:
            return self._packet(msg, now_ms)
        return self._dispatch(msg, now_ms)

    def malformed(self, exc: CodecError, raw: bytes = b"") -> Step:
        """A frame the codec refused: logged with its hex; result 2 when the header is readable."""
        log.warning("bad frame (%s): %s %s", exc.reason, exc.detail, raw[:256].hex())
        head = exc.header
        step = Step(error=exc.reason, close=exc.reason == "too_long")
        if isinstance(head, Header):
            step.msg_id = head.msg_id
            step.reply = encoders.general_response(head, BAD_MESSAGE, self.next_serial())
        return step

    def expire(self, now_ms: int) -> list[bytes]:
        """0x8003 retransmission requests for subpackaged messages that timed out."""
        return [
            encoders.retransmit_request(p.header, p.first_serial, p.missing, self.next_serial())
            for p in self.reassembler.expire(now_ms)
            if p.missing
        ]

    def _packet(self, msg: Message, now_ms: int) -> Step:
        done, _expired = self.reassembler.add(msg.header, msg.body, now_ms)
        if done is None:
            # Each packet is acknowledged as it comes (2019 practice; 2013 terminals ignore it).
            return Step(self._ack(msg.header, OK), msg_id=msg.header.msg_id)
        try:
            whole = decode_body(done.header, done.body, self.directory.lenient(done.header.phone))
        except CodecError as exc:
            exc.header = msg.header
            return self.malformed(exc, done.body)
        whole.header = msg.header  # the last packet's serial is the one to acknowledge
        return self._dispatch(whole, now_ms)

    def _dispatch(self, msg: Message, now_ms: int) -> Step:
        head = msg.header
        mid = head.msg_id
        if not msg.supported:
            return Step(self._ack(head, UNSUPPORTED), msg_id=mid)
        if mid in (LOCATION, BATCH):
            return self._positions(msg, now_ms)
        if mid == REGISTER:
            return Step(self._register(msg), msg_id=mid)
        if mid == AUTHENTICATE:
            ok = self._authenticate(msg)
            return Step(self._ack(head, OK if ok else FAILURE), msg_id=mid)
        if mid == HEARTBEAT:
            return Step(self._ack(head, OK), msg_id=mid)
        if mid == LOGOUT:
            self.authenticated.discard(head.phone)
            return Step(self._ack(head, OK), close=True, msg_id=mid)
        if mid == TERMINAL_RESPONSE:
            return Step(msg_id=mid)
        # A message the codec decodes but the platform does not take from a terminal (e.g. a
        # platform-side 0x8001 sent to us): unsupported.
        return Step(self._ack(head, UNSUPPORTED), msg_id=mid)

    def _register(self, msg: Message) -> bytes:
        head = msg.header
        if self.directory.known(head.phone) is None:
            log.info("registration refused: terminal %s is not in the registry", head.phone)
            return encoders.registration_response(head, REG_NO_TERMINAL, self.next_serial())
        self.directory.learn_manufacturer(head.phone, msg.fields.get("manufacturer", ""))
        code = self.codes.code(head.phone)
        return encoders.registration_response(head, REG_OK, self.next_serial(), code)

    def _authenticate(self, msg: Message) -> bool:
        phone = msg.header.phone
        code = msg.fields.get("auth_code", "")
        if self.directory.known(phone) is None or not self.codes.check(phone, code):
            log.info("authentication refused for terminal %s", phone)
            return False
        self.authenticated.add(phone)
        return True

    def _positions(self, msg: Message, now_ms: int) -> Step:
        head = msg.header
        terminal = self.directory.terminal(head.phone)
        if head.phone not in self.authenticated or terminal is None:
            # Refused, not silently dropped: the terminal keeps the positions and, once it has
            # authenticated, sends them again.
            return Step(self._ack(head, FAILURE), msg_id=head.msg_id)
        if head.msg_id == LOCATION:
            positions, backfill = [msg.fields["location"]], False
        else:
            batch = msg.fields["batch"]
            positions, backfill = batch.positions, batch.backfill
        step = Step(self._ack(head, OK), msg_id=head.msg_id)
        for loc in positions:
            try:
                step.pings.append(to_ping(loc, terminal, head.serial, now_ms, backfill))
            except CodecError:
                step.skipped += 1  # no valid time or scrambled coordinates: nothing to place
        return step

    def _ack(self, head: Header, result: int) -> bytes:
        return encoders.general_response(head, result, self.next_serial())
