"""Cost of one output tick of the DMX output for four RGB pars, and packets on the wire.

Each tick does what the router and the engine will: the colour route's ``emit`` (four pars, one
run of 12 slots) and ``DmxSink.send`` (validate, write, send the universe when due at ``rate``).
Ticks are spaced 1/60 s apart, as the engine's are, so the due-time logic runs as it does live
(a tight loop would almost never be due). Packets go by sACN unicast to a loopback port.

    PYTHONPATH=$PWD python tests/bench/dmx_send.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import math
import socket
import statistics
import time

from bridge.sinks import dmx_kind
from bridge.sinks.dmx import DmxSink
from bridge.sinks.kind import RouteInfo


def run(seconds: float, changing: bool, rate: float) -> dict:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    cfg = {o.name: o.default for o in dmx_kind.DMX_TARGET.options}
    cfg.update(port=rx.getsockname()[1], rate=rate, fixtures={
        f"par{i + 1}": {"profile": "rgb", "universe": 1, "address": 1 + 3 * i} for i in range(4)})
    sub = {o.name: o.default for o in dmx_kind.DMX_ROUTE.options}
    sub.update(target="bench", fixture="par*")
    info = RouteInfo("colour", "routes[0]", 3, (0.0, 1.0), 0.0, 60.0, colour="rgb")
    out = dmx_kind.output(sub, info, cfg)
    sink = DmxSink.from_config("bench", cfg)
    costs = []
    n = int(seconds * 60)
    start_sent = sink.sent
    t_start = time.monotonic()
    next_tick = time.perf_counter()
    for i in range(n):
        y = (0.5 + 0.5 * math.sin(i / 9), 0.3, (i % 60) / 60) if changing else (0.2, 0.4, 0.6)
        t0 = time.perf_counter_ns()
        sink.send([out.emit(y)])
        costs.append(time.perf_counter_ns() - t0)
        next_tick += 1 / 60
        time.sleep(max(0.0, next_tick - time.perf_counter()))
    elapsed = time.monotonic() - t_start
    packets = sink.sent - start_sent
    sink.close()
    rx.close()
    costs.sort()
    return {"median_us": statistics.median(costs) / 1000,
            "p95_us": costs[int(0.95 * len(costs))] / 1000,
            "packets_per_s": packets / elapsed, "ticks": n}


def warm(n: int = 20000) -> dict:
    """The same tick in a tight loop (caches warm, as inside a busy engine tick): emit + send
    with a new colour every tick, and the cost of one packet out (``_transmit``) on its own."""
    cfg = {o.name: o.default for o in dmx_kind.DMX_TARGET.options}
    cfg.update(port=9, fixtures={
        f"par{i + 1}": {"profile": "rgb", "universe": 1, "address": 1 + 3 * i} for i in range(4)})
    sub = {o.name: o.default for o in dmx_kind.DMX_ROUTE.options}
    sub.update(target="bench", fixture="par*")
    out = dmx_kind.output(sub, RouteInfo("colour", "routes[0]", 3, (0.0, 1.0), 0.0, 60.0,
                                         colour="rgb"), cfg)
    sink = DmxSink.from_config("bench", cfg)
    sink._due = float("inf")  # never due: the tick's own work
    t0 = time.perf_counter()
    for i in range(n):
        sink.send([out.emit((i / n, 0.3, 0.5))])
    tick = (time.perf_counter() - t0) / n * 1e6
    uni = sink._unis[1]
    t0 = time.perf_counter()
    for _ in range(n):
        sink._transmit(uni, 0.0)
    packet = (time.perf_counter() - t0) / n * 1e6
    sink.close()
    return {"tick_us": tick, "packet_us": packet}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--rate", type=float, default=44.0)
    args = ap.parse_args()
    for changing in (True, False):
        r = run(args.seconds, changing, args.rate)
        print(f"{'changing' if changing else 'unchanged'} values, rate {args.rate:g}: "
              f"send() per tick median {r['median_us']:.1f} µs, p95 {r['p95_us']:.1f} µs; "
              f"{r['packets_per_s']:.1f} packets/s ({r['ticks']} ticks at 60 Hz)")
    w = warm()
    print(f"warm: emit + send {w['tick_us']:.2f} µs per tick (no packet due), one packet out "
          f"{w['packet_us']:.2f} µs")


if __name__ == "__main__":
    main()
