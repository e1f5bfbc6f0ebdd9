"""Benchmark (not a test): per-frame cost of the energy stage (``energy``, ``morph``), fed one
frame at a time as the live engine calls it.

    .venv/bin/python -m tests.bench.bench_energy [--seconds 60] [--fps 60] [--cpu]

Feeds the demo groove through the extractor once, then per 60 Hz frame runs the classic signals
(untimed: the tempo the stage reads) and times :class:`EnergyStage` ``process`` plus the engine's
row conversion of its two columns; two passes, the first warms up. Prints median, p95 and p99 in
µs. The whole pipeline with it: ``vjbridge bench --mapping tests/bench/mappings/default-plus-
energy.yaml`` against ``vjbridge bench`` (README, "Audio energy vector").
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bridge.audio.demo import DemoMusic
from bridge.audio.features import FeatureExtractor
from bridge.audio.spec import FeatureSpec
from bridge.runtime.energy_stage import energy_stage
from bridge.runtime.pipeline import SignalsStage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--fps", type=float, default=60.0)
    parser.add_argument("--cpu", action="store_true", help="this thread's CPU clock")
    args = parser.parse_args()
    clock = time.thread_time_ns if args.cpu else time.perf_counter_ns
    spec = FeatureSpec(fps=args.fps)
    frames = FeatureExtractor(spec).process(
        DemoMusic(spec.sample_rate).read(int(args.seconds * spec.sample_rate)))
    rows = [frames[i:i + 1].copy() for i in range(len(frames))]
    print(f"{len(rows)} frames at {spec.frame_rate:.2f} fps, "
          f"{'thread CPU' if args.cpu else 'wall'} time, one frame per call")
    us = np.empty(len(rows))
    for _ in range(2):  # the first pass warms up
        signals = SignalsStage(spec)
        stage = energy_stage(spec, [signals])
        for i, row in enumerate(rows):
            signals.process(row)
            t0 = clock()
            cols = stage.process(row)
            dict(zip(cols.names, cols.matrix[0].tolist()))  # what the engine's row does
            us[i] = (clock() - t0) / 1e3
    print(f"EnergyStage (energy, morph)  median {np.median(us):5.1f} µs   p95 "
          f"{np.percentile(us, 95):5.1f} µs   p99 {np.percentile(us, 99):5.1f} µs")


if __name__ == "__main__":
    main()
