"""Websockets: ``/ws/live`` (positions in the caller's scope and viewport) and ``/ws/alerts``
(new alerts and case changes, resumable by ``seq``).

Handshake (before ``accept``), in this order: the query parameters are checked (only the
route's own, each at most once and well formed); the Origin must be allowlisted or the request's
own host (CORS does not cover websockets); the caller presents a single-use ticket
(``?ticket=``) or a token in the subprotocols ``["landun.v1", "auth.<ticket or access token>"]``;
only then is one of the user's ``ws_max_per_user`` connection slots taken (1013 beyond), and
from there on everything runs under a ``finally`` that gives it back. Failures close with 1008.

A backing service that cannot be reached (PostgreSQL for accounts and alerts, Redis for live
positions), during the handshake or later, closes the socket with 1013 ("try again later") and
a reason naming the service, logging one warning line; a ticket refused for it can be used again.

An open socket lives as long as the access token it was opened under: it is closed (1008) when
that token expires, and within ``ws_recheck_s`` (plus a second) of its account being disabled,
removed, changed or given a new password. Frames from clients are limited to
``ws_max_frame_bytes`` (1009). Server → client frames are JSON objects with a ``type``; see docs
in each sender.
"""

from __future__ import annotations

import asyncio
import logging
import math

import anyio
import orjson
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from api.hub import AlertClient, LiveClient
from api.ports import AlertQuery
from api.security import Grant
from api.sessions import account_problem
from api.ws_admission import Close, admit, close, leave, parse_seq, unavailable
from stream.live.errors import ServiceUnavailable

router = APIRouter()
log = logging.getLogger(__name__)
WATCH_S = 1.0  # watchdog period (shorter when ws_recheck_s is)
SNAPSHOT_ALERTS = 200
ALERT_BATCH = 100  # events per frame at most, to keep frames small


async def send(ws: WebSocket, payload: dict | bytes, client) -> None:
    """Send one JSON frame (a dict, or JSON already serialised). The connection's watchdog
    closes it with 1013 if a send stays stuck longer than ``ws_send_timeout_s``."""
    text = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    client.sending_since = asyncio.get_running_loop().time()
    try:
        await ws.send_text(text.decode())
    finally:
        client.sending_since = None


async def receive(ws: WebSocket) -> dict:
    """Receive one JSON object frame within the frame size limit."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    if text is None:
        raise Close(1003, "text frames only")
    if len(text.encode()) > ws.app.state.settings.ws_max_frame_bytes:
        raise Close(1009, "frame too large")
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise Close(1007, "frame is not JSON") from None
    if not isinstance(data, dict):
        raise Close(1007, "frame must be a JSON object")
    return data


async def watchdog(ws: WebSocket, client, grant: Grant) -> None:
    """Close a connection whose send is stuck (1013), whose token expired (1008) or whose
    account no longer holds the token (1008: removed, disabled, changed, new password).

    One cheap timer per connection instead of a timeout around every send: at hundreds of
    clients times several frames a second, per-send cancel scopes cost more than the sends.
    The account is read through the app's ``AccountCache``: one store read per user per
    ``ws_recheck_s``, however many sockets the user has.
    """
    state = ws.app.state
    settings = state.settings
    loop = asyncio.get_running_loop()
    checked = loop.time()
    while True:
        await asyncio.sleep(min(WATCH_S, settings.ws_recheck_s))
        since = client.sending_since
        if since is not None and loop.time() - since > settings.ws_send_timeout_s:
            state.metrics.ws_slow_closes.inc()
            raise Close(1013, "client too slow")
        if state.clock() >= grant.expires:
            raise Close(1008, "session expired; log in again")
        if loop.time() - checked >= settings.ws_recheck_s:
            checked = loop.time()
            try:
                user = await state.accounts.get(grant.who.username)
            except Exception:  # an outage of the store must not close every socket at once
                log.warning("account check failed; will retry", exc_info=True)
                continue
            problem = account_problem(user, grant)
            if problem is not None:
                raise Close(1008, f"{problem}; log in again")


async def wait(wake: asyncio.Event) -> None:
    """Wait until the hub has something for this client."""
    await wake.wait()
    wake.clear()


async def run_until_closed(ws: WebSocket, *jobs) -> None:
    """Run the connection's jobs; the first to finish or fail ends them all and the socket.

    An anyio task group, not bare asyncio tasks: the ASGI server and the test client cancel
    through anyio scopes, and only structured tasks unwind cleanly under them.
    """
    ended: list[BaseException | None] = []

    async def guard(job, group) -> None:
        try:
            await job
            ended.append(None)
        except (Close, WebSocketDisconnect) as exc:
            ended.append(exc)
        except ServiceUnavailable as exc:  # a store read failed: 1013, not 1011 and a traceback
            ended.append(unavailable(ws, exc))
        group.cancel_scope.cancel()

    async with anyio.create_task_group() as group:
        for job in jobs:
            group.start_soon(guard, job, group)
    first = ended[0] if ended else None
    if isinstance(first, WebSocketDisconnect):
        return  # the client left
    await close(ws, first if isinstance(first, Close) else Close(1000, ""))


def parse_viewport(data: dict):
    """``{"type": "viewport", "bbox": [w, s, e, n] | null, "zoom": z}`` → bbox or None."""
    bbox = data.get("bbox")
    if bbox is None:
        return None
    ok = isinstance(bbox, list) and len(bbox) == 4
    ok = ok and all(isinstance(v, int | float) and math.isfinite(v) for v in bbox)
    if not ok or not (bbox[0] <= bbox[2] and bbox[1] <= bbox[3]):
        raise Close(1007, "bbox must be [west, south, east, north] in degrees")
    return tuple(float(v) for v in bbox)


@router.websocket("/ws/live")
async def live_socket(ws: WebSocket) -> None:
    """Live positions. Server frames: ``hello``; ``snapshot`` (replace everything; items may
    continue in ``positions`` frames); ``positions`` (updates); ``counts`` (the whole scope's
    counters, ``stream.live.projection.tally``). Client frames: ``viewport`` with ``bbox`` and
    ``zoom``."""
    admitted = await admit(ws, "live", {})
    if admitted is None:
        return
    grant, _ = admitted
    hub, settings = ws.app.state.hub, ws.app.state.settings
    client = LiveClient(grant.who, settings.ws_position_cap)
    try:
        hub.add_live(client)
        await run_until_closed(
            ws, _live_sender(ws, client), _live_receiver(ws, client), watchdog(ws, client, grant)
        )
    finally:
        hub.remove_live(client)
        leave(ws, "live", grant)


async def _live_sender(ws: WebSocket, client: LiveClient) -> None:
    state = ws.app.state
    settings, live, metrics = state.settings, state.ports.live, state.metrics
    hello = {"type": "hello", "user": client.who.username, "district": client.who.district}
    await send(ws, hello, client)
    state.hub.publish_counts(await asyncio.to_thread(live.query))
    while True:
        await wait(client.wake)
        if settings.ws_flush_ms:
            await asyncio.sleep(settings.ws_flush_ms / 1000)  # let updates coalesce
        if client.resnapshot:
            # Cleared before the read: a viewport change during it asks for another snapshot.
            client.resnapshot, bbox = False, client.bbox
            rows = await asyncio.to_thread(live.query, client.who.district, bbox)
            client.snapshot_taken(rows)
            first, rest = rows[: settings.ws_batch], rows[settings.ws_batch :]
            await send(ws, {"type": "snapshot", "bbox": bbox, "items": first}, client)
            for i in range(0, len(rest), settings.ws_batch):
                chunk = rest[i : i + settings.ws_batch]
                await send(ws, {"type": "positions", "items": chunk}, client)
        while client.pending:
            batch = client.take(settings.ws_batch)
            await send(ws, b'{"type":"positions","items":[' + b",".join(batch) + b"]}", client)
            metrics.ws_positions.inc(len(batch))
        if client.counts_dirty:
            client.counts_dirty = False
            await send(ws, {"type": "counts", "counts": client.counts}, client)


async def _live_receiver(ws: WebSocket, client: LiveClient) -> None:
    while True:
        data = await receive(ws)
        if data.get("type") == "viewport":
            client.set_viewport(parse_viewport(data))
        else:
            raise Close(1008, f"unknown message type {data.get('type')!r}")


@router.websocket("/ws/alerts")
async def alerts_socket(ws: WebSocket) -> None:
    """Alert feed. ``?after=<seq>`` resumes after the last seen event; without it the first
    frame is a ``snapshot`` of recent alerts in scope with the current ``seq``. Server frames:
    ``snapshot``/``resync`` {seq, alerts}, ``alert`` and ``case`` {seq, alert}, and in bursts
    ``batch`` {events: [alert/case frames, in seq order]}."""
    admitted = await admit(ws, "alerts", {"after": parse_seq})
    if admitted is None:
        return
    grant, query = admitted
    after = query.get("after")
    hub, store = ws.app.state.hub, ws.app.state.ports.alerts
    client = None
    try:
        # The store may be PostgreSQL: read off the event loop. An event stored between this
        # read and the registration below is caught up by the hub's head check.
        try:
            head = await asyncio.to_thread(store.head)
        except ServiceUnavailable as exc:
            await close(ws, unavailable(ws, exc))
            return
        client = AlertClient(grant.who, ws.app.state.settings.ws_alert_queue, head)
        hub.alert_clients.add(client)  # before any read, so nothing published meanwhile is missed
        if after is None:
            client.initial, client.initial_seq = "snapshot", head
        else:
            client.cursor, client.behind = after, True
        client.wake.set()
        await run_until_closed(
            ws,
            _alert_sender(ws, client),
            _drain(ws),
            _overflow(client),
            watchdog(ws, client, grant),
        )
    finally:
        hub.alert_clients.discard(client)
        leave(ws, "alerts", grant)


async def _send_snapshot(ws: WebSocket, client: AlertClient, kind: str, head: int) -> None:
    store = ws.app.state.ports.alerts
    query = AlertQuery(district=client.who.district, limit=SNAPSHOT_ALERTS)
    alerts = await asyncio.to_thread(store.query, query)
    await send(ws, {"type": kind, "seq": head, "alerts": alerts}, client)


async def _catch_up(ws: WebSocket, client: AlertClient) -> None:
    """Re-read events after the client's cursor from the store, page by page."""
    store = ws.app.state.ports.alerts
    page = min(client.maxsize, 500)
    while client.behind:
        client.behind = False
        head = await asyncio.to_thread(store.head)
        events, gap = await asyncio.to_thread(store.events_after, client.cursor, page)
        if gap:  # what the client missed is no longer kept: give it the current picture
            client.queue.clear()
            client.cursor = head
            await _send_snapshot(ws, client, "resync", head)
            continue
        client.accept(events)
        await _flush(ws, client)
        if len(events) == page:
            client.behind = True


async def _flush(ws: WebSocket, client: AlertClient) -> None:
    """Send queued events: one frame each, or a ``batch`` frame {events: [...]} in a burst."""
    hub = ws.app.state.hub
    while client.queue:
        count = min(len(client.queue), ALERT_BATCH)
        texts = [hub.event_text(client.queue.popleft()) for _ in range(count)]
        if len(texts) == 1:
            await send(ws, texts[0], client)
        else:
            await send(ws, b'{"type":"batch","events":[' + b",".join(texts) + b"]}", client)
        ws.app.state.metrics.ws_frames.labels("alerts").inc()


async def _alert_sender(ws: WebSocket, client: AlertClient) -> None:
    if client.initial:
        await _send_snapshot(ws, client, client.initial, client.initial_seq)
    while True:
        await wait(client.wake)
        await _catch_up(ws, client)
        await _flush(ws, client)


async def _overflow(client: AlertClient) -> None:
    await client.overflowed.wait()
    raise Close(1013, "too slow for the alert feed; reconnect with ?after=<last seq>")


async def _drain(ws: WebSocket) -> None:
    """The alert feed takes no client frames except to notice a disconnect."""
    while True:
        data = await receive(ws)
        raise Close(1008, f"unexpected message type {data.get('type')!r}")
