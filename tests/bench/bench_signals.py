"""Benchmark (not a test): cost of the classic signals per 60 Hz frame, fed one frame at a time.

    .venv/bin/python -m tests.bench.bench_signals [--seconds 60] [--fps 60] [--cpu]

Feeds the demo groove through the extractor once, then times ``ClassicSignals.process`` (and each
stage alone) on single frames as the live engine calls it, and prints median and p99 in µs.
"""

from __future__ import annotations

import time

import numpy as np

from bridge.signals.bands import BandLevels, Centroid, Levels
from bridge.signals.classic import ClassicSignals
from bridge.signals.tempo import TempoTracker
from bridge.signals.triggers import OnsetTriggers
from tests.bench.demo_frames import clock as bench_clock
from tests.bench.demo_frames import demo_frames, figures, options


def _time(stage, frames, clock=time.perf_counter_ns) -> np.ndarray:
    out = np.empty(len(frames))
    for i in range(len(frames)):
        row = frames[i:i + 1]
        t0 = clock()
        stage.process(row)
        out[i] = clock() - t0
    return out / 1000.0


def main() -> None:
    args = options(__doc__)
    clock = bench_clock(args)
    spec, frames = demo_frames(args)
    print(f"{len(frames)} frames at {spec.frame_rate:.2f} fps, one frame per process() call, "
          f"{'thread CPU' if args.cpu else 'wall'} time")
    rows = [("ClassicSignals (all)", ClassicSignals(spec))] + [
        (cls.__name__, cls(spec)) for cls in (BandLevels, Levels, Centroid, OnsetTriggers,
                                              TempoTracker)]
    for name, stage in rows:
        _time(stage, frames[:600], clock)  # warm up caches and the tracker
        stage.reset()
        us = _time(stage, frames, clock)
        print(figures(name, us))
    whole = ClassicSignals(spec)
    t0 = time.perf_counter()
    whole.process(frames)
    dt = time.perf_counter() - t0
    print(f"whole file in one call: {dt * 1e6 / len(frames):.1f} µs per frame")


if __name__ == "__main__":
    main()
