"""Rolling timing statistics for the status line and the benchmark (median / p99, no allocation
per sample: a fixed ring of floats)."""

from __future__ import annotations

import numpy as np


class Rolling:
    """The last ``size`` samples of a duration (seconds); ``add`` is O(1) on the engine thread.

    The ring is a Python list: storing a float into it costs about half of a numpy item
    assignment, and the engine adds several samples per 60 Hz frame."""

    def __init__(self, size: int = 4096):
        self._size = int(size)
        self._buf = [0.0] * self._size
        self._n = 0

    def add(self, value: float) -> None:
        n = self._n
        self._buf[n % self._size] = value
        self._n = n + 1

    @property
    def count(self) -> int:
        return self._n

    def samples(self) -> tuple:
        """A copy of the kept samples (~10 µs for 4,096: what a snapshot takes; the percentiles
        are then computed by its reader, off the engine thread)."""
        return tuple(self._buf[:min(self._n, self._size)])

    def values(self) -> np.ndarray:
        return np.array(self._buf[:min(self._n, self._size)], dtype=np.float64)

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
