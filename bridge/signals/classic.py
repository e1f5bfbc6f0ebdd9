"""`ClassicSignals`: every classic signal in one stage, sharing one band-energy computation.

Why a composite: the live engine wants one call per block that yields all the names a VJ expects
(``low``, ``kick``, ``bpm``...), and the stages share their most expensive step, turning mel dB into
band powers (one ``10 ** (dB / 10)`` and one small matrix product per frame). The column order is
``ClassicSignals.names``, which is also the order of :data:`bridge.signals.catalog.CLASSIC`.

    signals = ClassicSignals(spec)
    values = signals.process(extractor.process(block))   # (n_frames, 14)
    latest = dict(zip(signals.names, values[-1]))

Cost, one 60 Hz frame per call (``tests/bench/bench_signals.py --cpu``): median 17.5 µs, p99 61 µs
(the p99 frames are the tempo re-estimates, every 0.25 s) on the shared 2-core test machine under a
load average of 6; a whole file fed at once costs about the same per frame.
"""

from __future__ import annotations

import numpy as np

from bridge.audio.spec import FeatureSpec
from bridge.signals.bands import BandLayout, BandLevels, Centroid, Levels, as_frames
from bridge.signals.catalog import CLASSIC
from bridge.signals.tempo import TempoTracker
from bridge.signals.triggers import OnsetTriggers


class ClassicSignals:
    """All classic signals: ``process(frames) -> (n, len(names))``, ``reset()``, ``names``.

    ``options`` maps a stage name (``"bands"``, ``"centroid"``, ``"levels"``, ``"triggers"``,
    ``"tempo"``) to keyword arguments of that stage, e.g. ``{"bands": {"longterm": 10.0}}``.
    """

    STAGES = {"bands": BandLevels, "levels": Levels, "centroid": Centroid,
              "triggers": OnsetTriggers, "tempo": TempoTracker}

    def __init__(self, spec: FeatureSpec | None = None, *, options: dict | None = None):
        from bridge.errors import ConfigError

        self.spec = spec if spec is not None else FeatureSpec()
        options = dict(options or {})
        unknown = sorted(set(options) - set(self.STAGES))
        if unknown:
            raise ConfigError(f"ClassicSignals options: unknown stage {unknown[0]!r}; the stages "
                              f"are {', '.join(self.STAGES)}.")
        self.layout = BandLayout(self.spec)
        self.stages = [cls(self.spec, layout=self.layout, **options.get(key, {}))
                       for key, cls in self.STAGES.items()]
        names, self._slices, start = [], [], 0
        for stage in self.stages:
            names.extend(stage.names)
            self._slices.append(slice(start, start + len(stage.names)))
            start += len(stage.names)
        if tuple(names) != tuple(CLASSIC):  # the catalog lists the columns in stage order
            raise AssertionError(f"catalog and stages disagree: {names} vs {tuple(CLASSIC)}")
        self.names: tuple[str, ...] = tuple(CLASSIC)
        self.columns: dict[str, int] = {n: i for i, n in enumerate(self.names)}
        self._scratch = np.empty((0, len(names)))
        self._views = [(stage._run, self._scratch[:, cols])
                       for stage, cols in zip(self.stages, self._slices)]

    def reset(self) -> None:
        """Forget all state (auto-gain averages, tempo, trigger thresholds): a new stream."""
        for stage in self.stages:
            stage.reset()

    def process(self, frames) -> np.ndarray:
        """Signals for each frame of ``frames`` (``(n, n_mels + 2)`` extractor output)."""
        x = as_frames(frames, self.spec)
        n = x.shape[0]
        if self._scratch.shape[0] != n:  # the live engine sends one size: views made once
            self._scratch = np.empty((n, self._scratch.shape[1]))
            self._views = [(stage._run, self._scratch[:, cols])
                           for stage, cols in zip(self.stages, self._slices)]
        energies = self.layout.energies(x).tolist() if n else []
        for run, view in self._views:
            run(x, energies, view)
        return self._scratch.copy()

    def as_dict(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """Columns of a ``process`` result by name."""
        return {name: values[:, i] for i, name in enumerate(self.names)}
