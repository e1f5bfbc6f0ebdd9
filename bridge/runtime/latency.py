"""Rolling timing statistics for the status line and the benchmark (median / p99, no allocation
per sample: a fixed ring of float64)."""

from __future__ import annotations

import numpy as np


class Rolling:
    """The last ``size`` samples of a duration (seconds); ``add`` is O(1) on the engine thread."""

    def __init__(self, size: int = 4096):
        self._buf = np.zeros(int(size))
        self._n = 0

    def add(self, value: float) -> None:
        self._buf[self._n % self._buf.size] = value
        self._n += 1

    @property
    def count(self) -> int:
        return self._n

    def values(self) -> np.ndarray:
        return self._buf[:min(self._n, self._buf.size)].copy()

    def median(self) -> float:
        v = self.values()
        return float(np.median(v)) if v.size else float("nan")

    def p99(self) -> float:
        v = self.values()
        return float(np.percentile(v, 99)) if v.size else float("nan")

    def summary_ms(self) -> str:
        if not self._n:
            return "n/a"
        return f"median {self.median() * 1e3:.2f} ms, p99 {self.p99() * 1e3:.2f} ms"
