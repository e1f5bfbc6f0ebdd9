"""Live feature meters for the terminal (rich), or one plain line per second when not a TTY."""

from __future__ import annotations

import time

import numpy as np


class Meters:
    """Shows low/mid/high band levels, RMS, onset strength and the extractor's cost per frame."""

    def __init__(self, spec, *, source: str, interactive: bool):
        self.spec = spec
        self.source = source
        self.interactive = interactive
        third = spec.n_mels // 3
        self.bands = {"low": slice(0, third), "mid": slice(third, 2 * third),
                      "high": slice(2 * third, spec.n_mels)}
        self.values: dict[str, float] = {}
        self.frames = 0
        self.costs: list[float] = []
        self._live = None
        self._last_line = 0.0

    def __enter__(self):
        print(f"vjbridge: extracting {self.spec.describe()} from {self.source}; Ctrl-C to stop")
        if self.interactive:
            from rich.live import Live

            self._live = Live(self._render(), refresh_per_second=20, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc):
        if self._live is not None:
            self._live.__exit__(*exc)
        print(f"vjbridge: {self.frames} frames, extractor median "
              f"{np.median(self.costs or [0]) * 1e6:.0f} µs per block")
        return False

    def update(self, frame: np.ndarray, *, cost: float) -> None:
        n = self.spec.n_mels
        for name, band in self.bands.items():
            self.values[name] = float(frame[band].mean())
        self.values["rms"] = float(frame[n])
        self.values["onset"] = float(frame[n + 1])
        self.frames += 1
        self.costs = (self.costs + [cost])[-600:]
        now = time.monotonic()
        if self._live is not None:
            self._live.update(self._render())
        elif now - self._last_line >= 1.0:
            self._last_line = now
            print("  ".join(f"{k} {v:7.2f}" for k, v in self.values.items()), flush=True)

    def _render(self):
        from rich.table import Table

        table = Table(title=f"vjbridge · {self.source}", show_header=False, box=None)
        scales = {"low": (-60, 30), "mid": (-60, 30), "high": (-60, 30), "rms": (0, 0.5),
                  "onset": (0, 10)}
        for name, (lo, hi) in scales.items():
            value = self.values.get(name, lo)
            level = min(1.0, max(0.0, (value - lo) / (hi - lo)))
            bar = "█" * int(level * 40)
            unit = " dB" if name in self.bands else ""
            table.add_row(f"{name:>5}", f"[cyan]{bar:<40}[/]", f"{value:8.3f}{unit}")
        cost = np.median(self.costs) * 1e6 if self.costs else 0.0
        table.add_row("", f"frames {self.frames}  ·  extractor {cost:.0f} µs/block", "")
        return table
