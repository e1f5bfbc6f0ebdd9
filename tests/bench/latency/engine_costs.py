"""The daemon's own engine, instrumented in place: its thread's CPU split into the parts it does.

    python -m tests.bench.latency.engine_costs [--seconds 20] [--pulse] [-- RUN OPTIONS]

Runs ``vjbridge run`` in this process (``bridge.commands.run.run``: the same source, engine thread,
priority, status line and mapping as the daemon), with :class:`~bridge.runtime.engine.Engine`
subclassed only to read CPU time: its per-stage timers on ``time.thread_time`` (the engine's own
timer hook), and ``source.read`` and ``_process`` wrapped in ``thread_time``. At the end: the engine
thread's CPU per packet, split into queue reads (with / without a block), block processing (blocks
giving no frame / giving frames) and the rest of the loop; and the stage timers per frame.

Why: ``vjbridge bench`` runs the same stages back to back on a pre-filled queue; the daemon waits
10 ms between blocks. ``--speed 0`` plays the demo as fast as possible through the same code: the
difference between the two is what running at real time costs per frame. ``--pulse`` records
``--device pulse`` from a private null sink playing the test music (profile_daemon.py's set-up).
The OSC goes to a local socket that discards it (a refused port would take the error path).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import bridge.runtime.engine as engine_module
from bridge.cli import build_parser
from tests.bench.latency.profile_daemon import DiscardSink, music_wav
from tests.bench.latency.pulse import PrivatePulse, stop_child

RESULT: dict = {}


class CostedEngine(engine_module.Engine):
    """The daemon's Engine with CPU-time timers and wrapped read/_process (nothing else changes)."""

    def __init__(self, *args, **kwargs):
        kwargs["timer_clock"] = time.thread_time
        super().__init__(*args, **kwargs)
        self.read_cpu = {True: [], False: []}  # got a block / timed out
        self.process_cpu = {True: [], False: []}  # block gave >= 1 frame / none
        RESULT["engine"] = self

    def _process(self, block, period):
        frames, t0 = self.frames, time.thread_time()
        super()._process(block, period)
        self.process_cpu[self.frames > frames].append(time.thread_time() - t0)

    def run(self, stop=None, *, duration=None):
        read, clock = self.source.read, time.thread_time

        def timed_read(timeout):
            t0 = clock()
            block = read(timeout)
            t1 = clock()
            if block is not None and "start" not in RESULT:
                # from the first block on: start-up (model loading, warm-up) is not per frame
                RESULT["start"] = (t1, time.perf_counter(), self.ticks)
            if "start" in RESULT:
                self.read_cpu[block is not None].append(t1 - t0)
            return block

        self.source.read = timed_read
        try:
            super().run(stop, duration=duration)
        finally:
            RESULT["end"] = (time.thread_time(), time.perf_counter(), self.ticks)


def report(e: CostedEngine) -> str:
    (c0, w0, k0), (c1, w1, k1) = RESULT["start"], RESULT["end"]
    thread_cpu, wall, packets = c1 - c0, w1 - w0, max(1, k1 - k0)
    per = lambda seconds: 1e6 * seconds / packets  # noqa: E731 - µs per packet
    reads = {k: float(np.sum(v)) for k, v in e.read_cpu.items()}
    procs = {k: float(np.sum(v)) for k, v in e.process_cpu.items()}
    n_blocks = sum(len(v) for v in e.process_cpu.values())
    rest = thread_cpu - sum(reads.values()) - sum(procs.values())
    lines = [f"engine thread: {100 * thread_cpu / wall:.1f} % of one core over {wall:.1f} s, "
             f"{packets} packets, {per(thread_cpu):.0f} µs CPU per packet",
             f"  queue reads with a block   {per(reads[True]):6.0f} µs/packet "
             f"({len(e.read_cpu[True])} calls, "
             f"{1e6 * np.mean(e.read_cpu[True] or [0]):.0f} µs each)",
             f"  queue reads timing out     {per(reads[False]):6.0f} µs/packet "
             f"({len(e.read_cpu[False])} calls)",
             f"  blocks giving no frame     {per(procs[False]):6.0f} µs/packet "
             f"({len(e.process_cpu[False])} of {n_blocks} blocks, "
             f"{1e6 * np.mean(e.process_cpu[False] or [0]):.0f} µs each)",
             f"  blocks giving frames       {per(procs[True]):6.0f} µs/packet "
             f"({len(e.process_cpu[True])} blocks)",
             f"  rest (loop, polls, timers) {per(rest):6.0f} µs/packet",
             "  stage timers (thread CPU, last 4096), mean µs per frame:"]
    for name, rolling in e.timers.items():
        v = rolling.values()
        if v.size:
            lines.append(f"    {name:<10} {1e6 * v.mean():7.1f}  (median {1e6 * np.median(v):.1f})")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.latency.engine_costs")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--pulse", action="store_true",
                        help="record --device pulse from a private null sink playing music")
    parser.add_argument("run_args", nargs="*", help="`vjbridge run` options (default --demo)")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        sink = DiscardSink()
        stack.callback(sink.close)
        run_args = args.run_args or ([] if args.pulse else ["--demo"])
        if args.pulse:
            pulse = stack.enter_context(PrivatePulse())
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            player = pulse.play(music_wav(tmp / "music.wav", args.seconds + 30))
            stack.callback(stop_child, player)
            os.environ["XDG_RUNTIME_DIR"] = pulse.dir  # before sounddevice's first import
            run_args = ["--device", "pulse", *run_args]
        ns = build_parser().parse_args(["run", *run_args, "--osc", f"127.0.0.1:{sink.port}",
                                        "--duration", str(args.seconds),
                                        "--status-interval", "1000"])
        engine_module.Engine = CostedEngine  # run() imports Engine from the module when it starts
        rc = ns._module.run(ns)
    print(report(RESULT["engine"]))
    return rc


if __name__ == "__main__":
    sys.exit(main())
