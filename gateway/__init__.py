"""The JT/T 808 (2011/2013/2019) gateway (issue 14): the pure codec, and around it the TCP server.

The codec modules (frame, header, location, items, vendors, messages, encoders, reassembly,
to_ping, jsonview) are pure: no sockets, no clock. The server (:mod:`gateway.server`), the
protocol rules per connection (:mod:`gateway.session`), limits, the sinks (Kafka through
``PingSender``, an in-process callback for the demo) and the terminal simulator
(:mod:`gateway.terminals`) call the codec through this API:

Per connection
    ``splitter = FrameSplitter()`` (:mod:`gateway.frame`) holds the stream buffer;
    ``splitter.feed(chunk)`` returns the frames the chunk completes (escaped bytes between two
    0x7E flags) and, in place of an over-long one, a :class:`CodecError` ``too_long`` (drop the
    connection). Leading garbage is skipped and counted (``splitter.skipped``); memory is
    bounded by ``max_frame``.
    ``reassembler = Reassembler(timeout_ms)`` (:mod:`gateway.reassembly`) joins subpackaged
    messages; ``add(header, body, now_ms)`` returns ``(Complete | None, expired groups)``.

Per frame
    ``msg = decode_for_terminal(raw, lenient_of)`` (:mod:`gateway.messages`; strict, then
    lenient only if ``lenient_of(phone)``: the terminal is known only once its frame is read)
    or ``decode_frame(raw, lenient=...)`` gives a
    :class:`Message`: ``msg.header`` (:class:`Header`: ``msg_id``, ``version`` "2013"/"2019",
    ``phone`` (the device key: digits, leading zeros stripped), ``phone_bcd`` (echoed in
    replies), ``serial``, subpackage ``total``/``index``, ``warnings``), ``msg.fields`` (the
    decoded body: ``{"location": Location}`` for 0x0200, ``{"batch": Batch}`` for 0x0704, plain
    values for the rest) and ``msg.supported`` (false: reply result 3). A subpackaged frame has
    empty fields: feed ``msg.header, msg.body`` to the reassembler, then ``decode_body``.
    Every malformed input raises :class:`CodecError` with ``reason`` (``bad_checksum``,
    ``bad_escape``, ``truncated``, ``bad_length``, ...) and, when the header was readable,
    ``header``: reply 0x8001 result 2 to it. Nothing else is ever raised (fuzzed).

Replies (:mod:`gateway.encoders`; same version and phone bytes as the request; ``serial`` is
the platform's counter)
    ``general_response(msg.header, result, serial)`` (0x8001: 0 ok, 1 failure, 2 bad message,
    3 unsupported), ``registration_response(msg.header, result, serial, auth_code)`` (0x8100),
    ``retransmit_request(pending.header, pending.first_serial, pending.missing, serial)``
    (0x8003, for a reassembly group that expired). ``encode_frame`` and the terminal-side bodies
    (``registration_body``, ``authentication_body``) serve the terminal simulator.

Into the stream
    ``to_ping(location, Terminal(vehicle, gcj02, load_sensor, vendor, lenient), seq=serial,
    received=now_ms, backfill=batch.backfill)`` (:mod:`gateway.to_ping`) gives the engine's ping
    dict (docs/formats.md) with ``source: "jt808"``; the server looks the :class:`Terminal` up in
    the registry by ``header.phone`` and sends the dict through ``PingSender``.

Vendor items
    ``VendorTable`` (:mod:`gateway.items`) maps a manufacturer id (from 0x0100) to a
    :class:`VendorProfile` declaring the non-standard items (tipper lift, cover, weight);
    :func:`gateway.vendors.table_from_dict` builds the table from a JSON document, so a city's
    standard is a file.

See docs/jt808.md for the protocol as landun uses it.
"""

from gateway.encoders import encode_frame, general_response, registration_response
from gateway.errors import CodecError
from gateway.frame import FrameSplitter
from gateway.header import V2013, V2019, Header
from gateway.items import ItemSpec, VendorProfile, VendorTable
from gateway.location import Batch, Location
from gateway.messages import Message, decode_body, decode_for_terminal, decode_frame
from gateway.reassembly import Reassembler
from gateway.to_ping import Terminal, to_ping

__all__ = [
    "CodecError",
    "FrameSplitter",
    "Header",
    "V2013",
    "V2019",
    "ItemSpec",
    "VendorProfile",
    "VendorTable",
    "Batch",
    "Location",
    "Message",
    "decode_body",
    "decode_for_terminal",
    "decode_frame",
    "encode_frame",
    "general_response",
    "registration_response",
    "Reassembler",
    "Terminal",
    "to_ping",
]
