"""Benchmark (not a test): per-frame cost of WLED sound sync, fed one frame at a time.

    .venv/bin/python -m tests.bench.bench_wled [--seconds 30] [--fps 60] [--cpu]

Feeds the demo groove through the extractor once, then times, per 60 Hz frame as the live engine
calls them: the geq/majorpeak/magnitude stages (with the engine's row conversion: a tuple of 16
floats and two floats), the five route outputs' ``emit``, and ``WledSink.send`` of their items
(validation, packing, one UDP datagram to a socket on loopback). Prints median and p99 in µs.
"""

from __future__ import annotations

import socket

import numpy as np

from bridge.runtime.geq_stage import geq_stages
from bridge.sinks.kind import RouteInfo
from bridge.sinks.wled_kind import WLED_KIND
from tests.bench.demo_frames import clock as bench_clock
from tests.bench.demo_frames import demo_frames, figures, options


def _info(signal, size=1, out=(0.0, 1.0)):
    return RouteInfo(signal=signal, path="routes[0]", size=size, out=out, idle=out[0],
                     rate=60.0, spectrum=size > 1)


def _stats(name: str, us: np.ndarray) -> None:
    print(figures(name, us, width=34))


def main() -> None:
    args = options(__doc__, seconds=30.0)
    clock = bench_clock(args)
    spec, frames = demo_frames(args)
    rows = [frames[i:i + 1].copy() for i in range(len(frames))]
    print(f"{len(rows)} frames at {spec.frame_rate:.2f} fps, "
          f"{'thread CPU' if args.cpu else 'wall'} time")
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.setblocking(False)
    sink = WLED_KIND.open("bench", {"host": "127.0.0.1", "port": rx.getsockname()[1], "ttl": 1,
                                    "interface": None, "loop": True})
    out = WLED_KIND.output
    outs = [out({"field": "bands"}, _info("geq", 16), {}),
            out({"field": "volume"}, _info("rms", out=(0, 255)), {}),
            out({"field": "peak", "threshold": 0.5}, _info("kick"), {}),
            out({"field": "magnitude"}, _info("magnitude", out=(0, 1024)), {}),
            out({"field": "frequency"}, _info("majorpeak", out=(0, 11025)), {})]
    n = len(rows)
    t_stage, t_emit, t_send = np.empty(n), np.empty(n), np.empty(n)
    for rep in range(2):  # the first pass warms up
        g, p = geq_stages(spec)
        for i, row in enumerate(rows):
            t0 = clock()
            vec, cols = g.process(row), p.process(row)
            bands = tuple(vec["geq"][0].tolist())  # what the engine puts in the tick's row
            peak_hz, magnitude = cols.matrix[0].tolist()
            t1 = clock()
            items = [outs[0].emit(bands), outs[1].emit(100.0), outs[2].emit(0.0),
                     outs[3].emit(magnitude * 1024.0), outs[4].emit(peak_hz)]
            t2 = clock()
            sink.send(items)
            t3 = clock()
            t_stage[i], t_emit[i], t_send[i] = t1 - t0, t2 - t1, t3 - t2
            try:
                while True:
                    rx.recv(64)
            except BlockingIOError:
                pass
    _stats("geq + peak stages (+ row)", t_stage / 1e3)
    _stats("5 route outputs emit()", t_emit / 1e3)
    _stats("WledSink.send (5 items, 1 packet)", t_send / 1e3)
    _stats("total", (t_stage + t_emit + t_send) / 1e3)
    print(f"sink: {sink.stats()}")
    sink.close()


if __name__ == "__main__":
    main()
