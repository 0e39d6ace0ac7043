"""The JT/T 808 gateway: an asyncio TCP server feeding terminals' positions to a sink (issue 14).

Per connection: a :class:`~gateway.frame.FrameSplitter` cuts the byte stream into frames, a
:class:`~gateway.session.Session` answers them, and the pings they carry go to the
:class:`~gateway.sink.PingSink` (Kafka, or the embedded engine). The frames of one read are
handled together: their pings are published at once, and every reply is written in order once
the sink has acknowledged the pings; when it has not (Kafka down), the position frames get no
reply and the terminal sends them again.

Nothing a client sends stops the server: a malformed frame is logged with its hex, counted and
answered with result 2 when its header was readable; an over-long frame closes its connection;
an unexpected error in a handler closes that connection only (and is logged with its
traceback). Connections are admitted against global and per-address limits, and closed when
idle or when a frame is left unfinished too long (:mod:`gateway.limits`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable

from gateway.directory import Directory
from gateway.errors import CodecError
from gateway.frame import FrameSplitter
from gateway.limits import Admission, Limits
from gateway.session import AuthCodes, Session, Step
from gateway.sink import PingSink, SinkUnavailable

log = logging.getLogger(__name__)
READ_SIZE = 64 * 1024


def wall_ms() -> int:
    """Epoch milliseconds now (the ``received`` of a ping)."""
    return time.time_ns() // 1_000_000


class Stats:
    """The gateway's counters (``/metrics``): plain integers, read from any thread."""

    def __init__(self) -> None:
        self.c: Counter[str] = Counter()
        self.bad: Counter[str] = Counter()  # malformed frames by codec reason
        self.refused: Counter[str] = Counter()  # connections refused, by limit
        self.closed: Counter[str] = Counter()  # connections closed, by cause
        self.messages: Counter[int] = Counter()  # frames handled, by message id
        self.open = 0

    def render(self, checks: dict[str, str]) -> str:
        """Prometheus text exposition of the counters and readiness."""
        out = [
            f"landun_gateway_connections_open {self.open}",
            *(f"landun_gateway_{name}_total {n}" for name, n in sorted(self.c.items())),
            *(f'landun_gateway_frames_bad_total{{reason="{r}"}} {n}' for r, n in self.bad.items()),
            *(
                f'landun_gateway_connections_refused_total{{limit="{r}"}} {n}'
                for r, n in self.refused.items()
            ),
            *(
                f'landun_gateway_connections_closed_total{{cause="{r}"}} {n}'
                for r, n in self.closed.items()
            ),
            *(
                f'landun_gateway_messages_total{{msg_id="0x{m:04X}"}} {n}'
                for m, n in sorted(self.messages.items())
            ),
            *(f'landun_gateway_ready{{check="{k}"}} {int(v == "ok")}' for k, v in checks.items()),
        ]
        return "\n".join(out) + "\n"


class GatewayServer:
    """Serves JT/T 808 terminals.

    Parameters
    ----------
    directory : Directory
        The registered terminals (by phone).
    sink : PingSink
        Where pings go; replies to positions wait for it.
    limits : Limits
        Connection limits and timeouts.
    secret : bytes, optional
        The key of the auth codes; terminals registered under one secret authenticate with any
        gateway process sharing it. Default: random, per process (terminals then register again
        after a restart, as they do when authentication fails).
    clock_ms : callable
        Epoch ms now, stamped on pings as ``received``.
    checks : dict of str to callable, optional
        Further readiness checks (e.g. the registry loaded), each ``() -> "ok" | reason``.
    """

    def __init__(
        self,
        directory: Directory,
        sink: PingSink,
        limits: Limits | None = None,
        secret: bytes | None = None,
        clock_ms: Callable[[], int] = wall_ms,
        checks: dict[str, Callable[[], str]] | None = None,
        max_frame: int | None = None,
    ):
        self.directory = directory
        self.sink = sink
        self.limits = limits or Limits()
        self.codes = AuthCodes(secret or secrets.token_bytes(32))
        self.clock_ms = clock_ms
        self.admission = Admission(self.limits)
        self.stats = Stats()
        self.max_frame = max_frame
        self._checks = {"sink": sink.ready, **(checks or {})}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    def checks(self) -> dict[str, str]:
        """``{check: "ok" | reason}``: the sink (Kafka reachable and acknowledging), ..."""
        return {name: check() for name, check in self._checks.items()}

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen; returns the bound port (``port=0`` picks a free one)."""
        self._server = await asyncio.start_server(self._accept, host, port, backlog=4096)
        return self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening, close every connection, then the sink."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        if self._server is not None:
            await self._server.wait_closed()
        await self.sink.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        address = peer[0] if peer else "?"
        refused = self.admission.admit(address)
        if refused is not None:
            self.stats.refused[refused] += 1
            log.warning("connection from %s refused: %s limit", address, refused)
            writer.close()
            return
        task = asyncio.current_task()
        self._tasks.add(task)
        self.stats.c["connections"] += 1
        self.stats.open += 1
        cause = "error"
        try:
            cause = await self._serve(reader, writer)
        except (ConnectionError, OSError):
            cause = "reset"
        except asyncio.CancelledError:
            cause = "shutdown"
        except Exception:  # never let one client's frame take the server down
            log.exception("connection from %s failed", address)
        finally:
            self.stats.closed[cause] += 1
            self.stats.open -= 1
            self.admission.release(address)
            self._tasks.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
        """Read, answer and publish until the connection ends; returns why it ended."""
        limits = self.limits
        session = Session(self.directory, self.codes, limits.reassembly_timeout_ms)
        splitter = FrameSplitter() if self.max_frame is None else FrameSplitter(self.max_frame)
        loop = asyncio.get_running_loop()
        last_frame = loop.time()
        partial_since: float | None = None
        while True:
            now = loop.time()
            deadline, cause = last_frame + limits.idle_timeout_s, "idle"
            if partial_since is not None and partial_since + limits.frame_timeout_s < deadline:
                deadline, cause = partial_since + limits.frame_timeout_s, "slow_frame"
            try:
                async with asyncio.timeout(max(deadline - now, 0)):  # no task per read
                    chunk = await reader.read(READ_SIZE)
            except TimeoutError:
                return cause
            if not chunk:
                return "eof"
            received = self.clock_ms()
            items = splitter.feed(chunk)
            if items:
                last_frame = loop.time()
            if splitter.pending == 0:
                partial_since = None
            elif partial_since is None or items:
                partial_since = loop.time()
            steps = [self._step(session, item, received) for item in items]
            replies = await self._publish(steps)
            replies += session.expire(received)
            if replies:
                writer.write(b"".join(replies))
                if writer.transport.get_write_buffer_size():  # the client is not reading
                    async with asyncio.timeout(limits.write_timeout_s):
                        await writer.drain()
                self.stats.c["replies"] += len(replies)
            if any(s.close for s in steps):
                return "logout" if not any(s.error for s in steps) else "too_long"

    def _step(self, session: Session, item: bytes | CodecError, received: int) -> Step:
        self.stats.c["frames"] += 1
        step = (
            session.malformed(item)
            if isinstance(item, CodecError)
            else session.frame(item, received)
        )
        if step.error is not None:
            self.stats.bad[step.error] += 1
        if step.msg_id is not None:
            self.stats.messages[step.msg_id] += 1
        if step.skipped:
            self.stats.c["positions_skipped"] += step.skipped
        return step

    async def _publish(self, steps: list[Step]) -> list[bytes]:
        """Publish the steps' pings; the replies to write (those of positions only if stored)."""
        pings = [p for s in steps for p in s.pings]
        stored = True
        if pings:
            try:
                await self.sink.publish(pings)
                self.stats.c["pings"] += len(pings)
            except SinkUnavailable as exc:
                stored = False
                self.stats.c["pings_unacknowledged"] += len(pings)
                log.warning("%d pings not stored, not acknowledged: %s", len(pings), exc)
        return [s.reply for s in steps if s.reply is not None and (stored or not s.pings)]
