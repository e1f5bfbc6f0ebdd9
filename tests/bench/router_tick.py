"""Cost of one router tick (routes -> sink items, no I/O) for mapping files, back to back.

Seeded random signal values (64 frames, cycled) go through ``Router.tick`` 6,000 times; the
first 1,000 are warm-up. Run it at two commits to compare the router (e.g. before and after a
refactor: ``git worktree add /tmp/before COMMIT``, then the same command with
``PYTHONPATH=/tmp/before``).

    PYTHONPATH=$PWD python tests/bench/router_tick.py mappings/default.yaml [MORE.yaml ...]
"""

from __future__ import annotations

import sys
import time

import numpy as np

from bridge.mapping.router import Router
from bridge.mapping.validate import load_mapping
from bridge.runtime.pipeline import _signal_table
from bridge.signals.catalog import CATALOG


def tick_cost_us(path: str, ticks: int = 6000, warmup: int = 1000) -> tuple[float, float]:
    """(median, p95) µs of one ``Router.tick`` for the mapping at ``path``."""
    signals = _signal_table(CATALOG)
    router = Router(load_mapping(path, signals=signals), signals=signals)
    rng = np.random.default_rng(0)
    names = sorted(router.signals_used)
    frames = [{k: float(rng.random()) for k in names} for _ in range(64)]
    spent = []
    clock = time.perf_counter
    for i in range(ticks):
        values = frames[i % 64]
        t0 = clock()
        router.tick(values)
        spent.append(clock() - t0)
    a = np.asarray(spent[warmup:]) * 1e6
    return float(np.median(a)), float(np.percentile(a, 95))


if __name__ == "__main__":
    for p in sys.argv[1:] or ["mappings/default.yaml"]:
        median, p95 = tick_cost_us(p)
        print(f"{p}: router tick median {median:.1f} µs, p95 {p95:.1f} µs")
