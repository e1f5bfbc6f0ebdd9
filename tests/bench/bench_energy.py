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

import numpy as np

from bridge.runtime.energy_stage import energy_stage
from bridge.runtime.pipeline import SignalsStage
from tests.bench.demo_frames import clock as bench_clock
from tests.bench.demo_frames import demo_frames, figures, options


def main() -> None:
    args = options(__doc__)
    clock = bench_clock(args)
    spec, frames = demo_frames(args)
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
    print(figures("EnergyStage (energy, morph)", us, width=28))


if __name__ == "__main__":
    main()
