"""JT/T 808 decode throughput: location frames per second on one core (issue 14 target: 100,000).

``python -m bench.gateway_decode [--frames N] [--repeat R] [--json]`` builds N realistic 0x0200
frames (2013 and 2019 headers, a Wuxi night's positions, the usual additional items: mileage,
fuel, signal, satellites, extended signals; some with an escaped byte) and times, best of R
passes, in CPU seconds of this one process (single-threaded: frames per second per core):

- ``decode``: :func:`gateway.messages.decode_frame` of each frame (unescape, header, length,
  checksum, 0x0200 body with its items kept raw): what the gateway pays per frame;
- ``decode_to_ping``: the same plus :func:`gateway.to_ping.to_ping` (the engine's ping dict);
- ``split_decode``: a whole TCP stream through :class:`gateway.frame.FrameSplitter` then decode;
- ``baseline_parse_ping``: :func:`stream.ping.parse_ping` of the equivalent JSON line, what
  ``landun ingest``/the worker pays per ping today, measured in the same run so the ratio holds
  on another machine.

Numbers depend on the machine and its load; nothing here asserts them.
"""

from __future__ import annotations

import argparse
import json
import random
import time

import orjson

from gateway import location
from gateway.encoders import encode_frame
from gateway.frame import FrameSplitter
from gateway.location import Location
from gateway.messages import decode_frame
from gateway.to_ping import Terminal, to_ping
from stream.ping import parse_ping

T0 = 1_796_558_400_000  # 2026-12-06T20:00:00+08:00, a night's start


def make_frames(n: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    frames = []
    for i in range(n):
        items = {
            0x01: rng.randrange(10_000_000).to_bytes(4, "big"),
            0x02: rng.randrange(5000).to_bytes(2, "big"),
            0x25: (rng.getrandbits(15)).to_bytes(4, "big"),
            0x30: bytes((rng.randrange(32),)),
            0x31: bytes((rng.randrange(4, 30),)),
        }
        loc = Location(
            alarm=0,
            status=0x000C0003 | rng.choice((0, 1, 3)) << 8,
            lat=round(31.49 + rng.uniform(-0.3, 0.3), 6),
            lng=round(120.31 + rng.uniform(-0.4, 0.4), 6),
            altitude_m=rng.randrange(0, 40),
            speed_kmh=round(rng.uniform(0, 70), 1),
            heading=rng.randrange(360),
            time_ms=T0 + i * 15_000,
            items=items,
        )
        version = "2019" if i % 3 == 0 else "2013"
        phone = str(13_900_000_000 + rng.randrange(5000))
        frames.append(encode_frame(0x0200, phone, i & 0xFFFF, location.encode(loc), version))
    return frames


def json_lines(frames: list[bytes]) -> list[bytes]:
    lines = []
    for raw in frames:
        msg = decode_frame(raw)
        ping = to_ping(msg.fields["location"], Terminal("V" + msg.header.phone), 1, T0)
        lines.append(orjson.dumps(ping))
    return lines


def best_rate(fn, n: int, repeat: int) -> float:
    """Items per CPU second of this process, best of ``repeat`` passes.

    CPU time, not wall time: "per core" is what the target asks, and on a shared machine wall
    time also counts the time other processes held the core.
    """
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return n / best


def run(n: int, repeat: int) -> dict:
    frames = make_frames(n)
    lines = json_lines(frames)
    stream = b"".join(frames)
    terminal = Terminal("V1")

    def decode():
        for raw in frames:
            decode_frame(raw)

    def decode_ping():
        for raw in frames:
            msg = decode_frame(raw)
            to_ping(msg.fields["location"], terminal, msg.header.serial, T0)

    def split_decode():
        splitter = FrameSplitter()
        for i in range(0, len(stream), 1460):  # one TCP segment at a time
            for raw in splitter.feed(stream[i : i + 1460]):
                decode_frame(raw)

    def baseline():
        for line in lines:
            parse_ping(line)

    out = {
        "frames": n,
        "escaped_frames": sum(1 for f in frames if b"\x7d" in f),
        "mean_frame_bytes": round(sum(map(len, frames)) / n, 1),
        "decode_per_s": best_rate(decode, n, repeat),
        "decode_to_ping_per_s": best_rate(decode_ping, n, repeat),
        "split_decode_per_s": best_rate(split_decode, n, repeat),
        "baseline_parse_ping_per_s": best_rate(baseline, n, repeat),
    }
    out["decode_vs_baseline"] = out["decode_per_s"] / out["baseline_parse_ping_per_s"]
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in out.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.frames, args.repeat)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:28} {value:,}" if isinstance(value, int | float) else f"{key} {value}")


if __name__ == "__main__":
    main()
