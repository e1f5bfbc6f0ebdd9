"""What the per-stage benchmark scripts share: their options, their clock, the demo groove's
feature frames, and one line of figures (median, p95, p99).

Used by ``python -m tests.bench.bench_signals``, ``bench_energy`` and ``bench_wled`` (run them as
modules from the repository root, so ``tests.bench`` imports)."""

from __future__ import annotations

import argparse
import time

import numpy as np

from bridge.audio.demo import DemoMusic
from bridge.audio.features import FeatureExtractor
from bridge.audio.spec import FeatureSpec


def options(description: str, *, seconds: float = 60.0) -> argparse.Namespace:
    """``--seconds`` of demo audio, ``--fps`` of the features, ``--cpu`` for the thread's clock."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=seconds)
    parser.add_argument("--fps", type=float, default=60.0)
    parser.add_argument("--cpu", action="store_true",
                        help="time with this thread's CPU clock (ignores time spent preempted by "
                             "other processes on a shared machine)")
    return parser.parse_args()


def clock(args: argparse.Namespace):
    """The clock the figures are read on (ns): this thread's CPU, or wall time."""
    return time.thread_time_ns if args.cpu else time.perf_counter_ns


def demo_frames(args: argparse.Namespace) -> tuple[FeatureSpec, np.ndarray]:
    """The live extractor's frames of ``args.seconds`` of the demo groove at ``args.fps``."""
    spec = FeatureSpec(fps=args.fps)
    audio = DemoMusic(spec.sample_rate).read(int(args.seconds * spec.sample_rate))
    return spec, FeatureExtractor(spec).process(audio)


def figures(name: str, us: np.ndarray, width: int = 22) -> str:
    """``name  median … µs  p95 … µs  p99 … µs  max … µs``."""
    return (f"{name:{width}s} median {np.median(us):7.1f} µs   p95 {np.percentile(us, 95):7.1f} µs"
            f"   p99 {np.percentile(us, 99):7.1f} µs   max {us.max():7.1f} µs")
