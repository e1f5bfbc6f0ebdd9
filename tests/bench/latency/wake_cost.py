"""The same frame of work, timed back to back and after the thread slept: what waking up costs.

    python -m tests.bench.latency.wake_cost [--frames 600] [--gaps 1,10] [--parts]

One frame = what the engine does per 60 Hz frame (``bridge.runtime.pipeline.build``: the shipped
models, classic signals, the default mapping sending real UDP to a local socket), fed one hop of
the demo groove. Each frame's CPU time (``time.thread_time``) is measured between gaps of: nothing
(as ``vjbridge bench`` runs it), ``time.sleep(G ms)`` (as the daemon waits for its next block), and
a busy wait of the same length that touches no memory (the CPU stays awake, caches stay ours unless
another process takes the core). If a frame costs more after a sleep than after a spin of the same
length, the extra is the price of the CPU going idle and coming back (VM exits, C-states, caches
refilled), which ``vjbridge bench`` cannot see and the daemon pays on every frame.

``--parts`` times each part alone the same way (the extractor on one hop, each stage and the
mapping's send on a fixed frame) and two calls that are not vjbridge's (``np.add`` on 256 samples,
a 2000-step Python loop), to tell the pipeline's code from the machine.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time

import numpy as np


def frame_worker(parts: bool = False):
    """A callable doing one frame of the live pipeline per call (or, with ``parts``, a dict of
    callables, one per part), and a cleanup."""
    from bridge.audio.demo import DemoMusic
    from bridge.audio.features import FeatureExtractor
    from bridge.runtime.engine import LIVE_SPEC
    from bridge.runtime.pipeline import build

    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    stages, outputs, _ = build(LIVE_SPEC, osc=f"127.0.0.1:{sink.getsockname()[1]}")
    for part in (*stages, *outputs):
        part.start()
    ex = FeatureExtractor(LIVE_SPEC)
    hop, y = LIVE_SPEC.hop_length, DemoMusic(LIVE_SPEC.sample_rate).read(120 * 22050)
    ex.process(y[:LIVE_SPEC.n_fft - hop])
    pos = [LIVE_SPEC.n_fft - hop]

    def one_frame():
        block = y[pos[0]:pos[0] + hop]
        pos[0] = pos[0] + hop if pos[0] + 2 * hop < y.size else LIVE_SPEC.n_fft - hop
        frames = ex.process(block)
        row = {}
        for stage in stages:
            values = stage.process(frames)
            row.update((k, float(v[0])) for k, v in values.items())
        for out in outputs:
            out.send(row)

    frame = ex.process(y[pos[0]:pos[0] + hop])
    row = {}
    for stage in stages:
        row.update((k, float(v[0])) for k, v in stage.process(frame).items())
    noise = np.random.default_rng(1).standard_normal(256)

    def extract():
        block = y[pos[0]:pos[0] + hop]
        pos[0] = pos[0] + hop if pos[0] + 2 * hop < y.size else LIVE_SPEC.n_fft - hop
        ex.process(block)

    by_part = {"extract": extract,
               **{stage.name: (lambda s=stage: s.process(frame)) for stage in stages},
               "send": lambda: outputs[0].send(row),
               "np.add(256)": lambda: np.add(noise, 1.0),
               "python loop": lambda: sum(i * i for i in range(2000))}

    def close():
        for part in (*outputs, *stages):
            part.close()
        sink.close()

    return (by_part if parts else one_frame), close


def spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def measure(one_frame, frames: int, gap_ms: float, how: str) -> np.ndarray:
    costs = np.empty(frames)
    wait = (lambda: None) if gap_ms == 0 else (
        (lambda: time.sleep(gap_ms / 1e3)) if how == "sleep" else (lambda: spin(gap_ms / 1e3)))
    for i in range(frames):
        wait()
        t0 = time.thread_time()
        one_frame()
        costs[i] = time.thread_time() - t0
    return costs[20:]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.latency.wake_cost")
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--gaps", default="0,1,10", help="gaps in ms, comma-separated")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of all modes")
    parser.add_argument("--parts", action="store_true", help="time each part alone")
    args = parser.parse_args(argv)
    work, close = frame_worker(parts=args.parts)
    jobs = work if args.parts else {"one frame": work}
    modes = [(0.0, "none")] + [(float(g), how) for g in args.gaps.split(",") if float(g) > 0
                               for how in ("sleep", "spin")]
    try:
        for name, job in jobs.items():
            for _ in range(200):  # warm: plans, sessions, caches
                job()
            for r in range(args.rounds):
                cells = []
                for gap, how in modes:
                    c = measure(job, args.frames, gap, how) * 1e6
                    cells.append(f"{how} {gap:g} ms {np.median(c):5.0f}")
                print(f"{name:<12} CPU median µs (round {r + 1}): " + " | ".join(cells),
                      flush=True)
    finally:
        close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
