"""CPU of the engine's queue read alone: a producer pushes a block every 10 ms (as a sound card's
callback does), a consumer thread only calls ``Source.read(timeout)`` as the engine loop does.

    python -m tests.bench.latency.queue_cost [--seconds 10]

Why: to price the per-block overhead the engine pays before doing any work, apart from the work.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

import numpy as np

from bridge.sources.base import Source


def measure(seconds: float, fifo: bool, timeout: float | None) -> dict:
    src, stop, result = Source(), threading.Event(), {}

    def produce():
        block, due = np.zeros((441, 2), np.float32), time.perf_counter()
        while not stop.is_set():
            due += 0.01
            time.sleep(max(0.0, due - time.perf_counter()))
            src._push(block.copy())

    def consume():
        if fifo:
            try:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(20))
            except (PermissionError, OSError):
                result["fifo"] = "refused"
        n, got, t0, c0 = 0, 0, time.perf_counter(), time.thread_time()
        while time.perf_counter() - t0 < seconds:
            block = src.read(timeout) if timeout is not None else src._queue.get()
            n, got = n + 1, got + (block is not None)
        result.update(cpu=time.thread_time() - c0, wall=time.perf_counter() - t0, reads=n,
                      blocks=got)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    consumer = threading.Thread(target=consume)
    consumer.start()
    consumer.join()
    stop.set()
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.latency.queue_cost")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    for fifo in (True, False):
        for label, timeout in (("read(timeout=1/60)", 1 / 60), ("Queue.get() blocking", None)):
            r = measure(args.seconds, fifo, timeout)
            print(f"{'SCHED_FIFO 20' if fifo else 'normal':<13} {label:<22}: "
                  f"{100 * r['cpu'] / r['wall']:.2f} % of one core, {r['blocks']} blocks, "
                  f"{1e6 * r['cpu'] / max(1, r['blocks']):.0f} µs CPU per block "
                  f"{r.get('fifo', '')}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
