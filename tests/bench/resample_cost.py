"""CPU of one 10 ms device block through the stream resampler, back to back and as the daemon pays it.

    python -m tests.bench.resample_cost [--rate 48000] [--seconds 3]
    PYTHONPATH=OTHER_CHECKOUT python tests/bench/resample_cost.py   # the same for another version

Why both: the daemon calls the resampler once per 10 ms block, after a pause in which the caches
went cold (tests/bench/latency/PROFILE.md), so the per-block figure after a 10 ms sleep is what
``vjbridge run`` pays; the back-to-back one prices the code. Thread CPU time (``time.thread_time``),
median and p95 over the blocks after the first 20. Measured, never asserted.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from bridge.audio.resample import StreamResampler


def per_block(rate: int, seconds: float, pause: float) -> np.ndarray:
    x = np.random.default_rng(0).standard_normal(int(rate * seconds)) * 0.1
    block = rate // 100
    r = StreamResampler(rate, 22050)
    times = []
    for i in range(0, x.size, block):
        if pause:
            time.sleep(pause)
        t0 = time.thread_time()
        r.process(x[i:i + block])
        times.append(time.thread_time() - t0)
    return np.asarray(times[20:]) * 1e6


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=48000)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    for label, pause in (("back to back", 0.0), ("after 10 ms sleeps", 0.01)):
        t = per_block(args.rate, args.seconds, pause)
        print(f"{args.rate} Hz, 10 ms blocks, {label}: median {np.median(t):.0f} µs, "
              f"p95 {np.percentile(t, 95):.0f} µs CPU per block")
    return 0


if __name__ == "__main__":
    sys.exit(main())
