"""Benchmark (not a test): CPU and wall time per 60 Hz frame of the live pipeline, and packet timing.

    .venv/bin/python tests/bench/bench_frame.py [--frames 3000] [--repeat 3] [--realtime 10]

Why thread CPU time: the test machines are shared (corpus renders, dataset builds); wall time then
mostly measures the scheduler. ``time.thread_time_ns`` counts only the engine thread's own work, so
two versions measured on the same busy box compare fairly. Wall time is printed beside it.

What runs is the product: :func:`bridge.runtime.pipeline.build` (shipped models, classic signals,
the default mapping, its OSC sink sending real UDP to a local socket) inside the real
:class:`~bridge.runtime.engine.Engine`, fed 48 kHz demo audio in 10 ms blocks, all queued up front.

* **whole per tick**: the engine thread's CPU time between consecutive packets (one packet per
  60 Hz frame), so it includes everything the engine does: queue read, resampling, extraction,
  stages, mapping, encode+send and the engine's own bookkeeping. No per-stage timers run then.
* **stages**: a second pass with each stage wrapped in a CPU timer (adds ~1 µs per stage); each
  stage's time is summed per packet (resampling happens per 10 ms block, extraction per hop call).
* **real time** (``--realtime S``): the blocks arrive every 10 ms as from a sound card; block
  arrival -> packet sent (the engine's own measurement) and the gaps between packets (soxr hands
  out about two hops per 10 ms block, so packets can leave in pairs).

Measured 2026-11-21 22:22 (load average ~1.5, after the corpus render), ``bench_pipeline`` hot
pass (wall; engine-thread CPU in brackets), three alternating runs each, before (398f278) -> after
(d445850): whole pipeline median 239-292 -> 136-142 µs (139-149), p99 424-598 -> 204-240 µs;
real time block arrival -> packet sent p99 2.2-3.3 -> 1.5-1.7 ms. This script at the same time:
whole per tick (engine thread CPU, resampling and queue included) median 335 -> 230 µs.

To compare with an older tree on the same box, run this script with that tree first on
``PYTHONPATH`` (e.g. ``git archive COMMIT | tar -x -C /tmp/old`` and link its onnx_models to this
checkout's so both load the same model); the script only uses APIs both have.
"""

from __future__ import annotations

import argparse
import os
import socket
import time

import numpy as np


def _stats(ns) -> str:
    a = np.asarray(ns, dtype=float) / 1000.0
    return f"median {np.median(a):7.1f} µs  p99 {np.percentile(a, 99):7.1f} µs  (n={a.size})"


class _Marks:
    """Wraps the engine's output: thread CPU and wall clock at the end of every send."""

    def __init__(self, output, router_timer=None):
        self.output = output
        self.cpu: list[int] = []
        self.wall: list[int] = []
        self.router_timer = router_timer  # name -> ns accumulated since the last packet
        self.per_tick: dict[str, list] = {}

    def __getattr__(self, name):
        return getattr(self.output, name)

    def send(self, values):
        if self.router_timer is None:
            self.output.send(values)
        else:
            outs = self.output.outputs
            c0 = time.thread_time_ns()
            frame = outs.router.tick(values)
            c1 = time.thread_time_ns()
            for key, items in frame.items():
                sink = outs.sinks.get(key)
                if sink is not None:
                    sink.send(items)
            c2 = time.thread_time_ns()
            acc = self.router_timer
            acc["mapping"] += c1 - c0
            acc["encode+send"] += c2 - c1
            for k, v in acc.items():  # per tick: the work since the previous packet
                self.per_tick.setdefault(k, []).append(v)
                acc[k] = 0
        self.cpu.append(time.thread_time_ns())
        self.wall.append(time.perf_counter_ns())


def _timed(fn, acc: dict, key: str):
    def wrapper(*args, **kwargs):
        c0 = time.thread_time_ns()
        out = fn(*args, **kwargs)
        acc[key] += time.thread_time_ns() - c0
        return out
    return wrapper


def run(*, frames: int, port: int, paced: bool = False, per_stage: bool = False,
        seconds: float | None = None):
    from bridge.runtime.bench_pipeline import _Replay
    from bridge.runtime.engine import LIVE_SPEC, Engine
    from bridge.runtime.pipeline import build

    spec = LIVE_SPEC
    if seconds is None:
        seconds = (frames * spec.hop_length + spec.n_fft) / spec.sample_rate + 0.05
    stages, outputs, rate = build(spec, mapping="default", models=None, osc=f"127.0.0.1:{port}")
    acc: dict[str, int] = {}
    marks = _Marks(outputs[0], acc if per_stage else None)
    engine = Engine(_Replay.make(seconds, paced=paced), stages, [marks], output_rate=rate,
                    pace=None if paced else False)  # queued blocks: no paced waits
    if per_stage:
        from bridge.audio.resample import StreamResampler

        acc.update({"resample": 0, "extract": 0})
        acc.update({st.name: 0 for st in stages})
        acc.update({"mapping": 0, "encode+send": 0})
        original = StreamResampler.process
        StreamResampler.process = _timed(original, acc, "resample")
        engine.extractor.process = _timed(engine.extractor.process, acc, "extract")
        for st in stages:
            st.process = _timed(st.process, acc, st.name)
    try:
        engine.run()
    finally:
        if per_stage:
            StreamResampler.process = original
    return engine, marks, marks.per_tick


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3, help="hot passes (medians of all)")
    parser.add_argument("--realtime", type=float, default=0.0, help="seconds of paced audio")
    args = parser.parse_args()
    import bridge

    print(f"tree: {os.path.dirname(os.path.dirname(bridge.__file__))}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    cpu, wall = [], []
    stage_ns: dict[str, list] = {}
    for _ in range(args.repeat):
        engine, marks, _ = run(frames=args.frames, port=port)
        cpu.extend(np.diff(marks.cpu)[20:])
        wall.extend(np.diff(marks.wall)[20:])
        _, _, timers = run(frames=args.frames, port=port, per_stage=True)
        for k, v in timers.items():
            stage_ns.setdefault(k, []).extend(v[20:])
    print(f"whole per tick, engine thread CPU: {_stats(cpu)}")
    print(f"whole per tick, wall:              {_stats(wall)}")
    for k, v in stage_ns.items():
        print(f"  {k:12s} CPU {_stats(v)}")
    if args.realtime > 0:
        engine, marks, _ = run(frames=0, port=port, paced=True, seconds=args.realtime)
        lat = engine.latency.values()[20:] * 1e3
        gaps = np.diff(np.asarray(marks.wall, dtype=float))[20:] / 1e6
        print(f"real time {args.realtime:g} s: arrival -> sent median {np.median(lat):.2f} ms, "
              f"p99 {np.percentile(lat, 99):.2f} ms, max {lat.max():.2f} ms; packet gaps: "
              f"{np.mean(gaps < 2.0) * 100:.0f}% < 2 ms, median {np.median(gaps):.2f} ms, "
              f"p99 {np.percentile(gaps, 99):.2f} ms; overruns {engine.source.overruns}")
    sock.close()


if __name__ == "__main__":
    main()
