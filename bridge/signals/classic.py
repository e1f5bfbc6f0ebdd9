"""`ClassicSignals`: every classic signal in one stage, sharing one band-energy computation.

Why a composite: the live engine wants one call per block that yields all the names a VJ expects
(``low``, ``kick``, ``bpm``...), and the stages share their most expensive step, turning mel dB into
band powers (one ``10 ** (dB / 10)`` and one small matrix product per frame). The column order is
``ClassicSignals.names``, which is also the order of :data:`bridge.signals.catalog.CLASSIC`.

    signals = ClassicSignals(spec)
    values = signals.process(extractor.process(block))   # (n_frames, 14)
    latest = dict(zip(signals.names, values[-1]))

Why frame by frame through each stage's ``step``: live, ``process`` gets one frame per call, and
its cost is the number of Python and numpy calls, not arithmetic (each runs with caches that the
extractor's FFT and the models' ONNX run have just evicted: about twice its cost in a loop). So
the band powers and the rms/onset columns become Python floats once, every stage's ``step``
returns its values as floats, and one array is made from the finished row (no per-stage views,
element writes or copies).

Cost, one 60 Hz frame per call (``python -m tests.bench.bench_signals --cpu``, thread CPU, shared 2-core
test machine, load average ~2): median 10.1 µs (16.2 µs before the per-frame ``step`` path), p99
77 µs (57 before: the p99 frames are the tempo re-estimates, every 0.25 s, which now also run the
tempo envelope and autocorrelation bursts, see tempo.py). In the live pipeline, after the
extractor and the models, the same call costs ~18 µs median (~28 before; ``vjbridge bench``). A
whole file fed at once costs more per frame (14-24 µs, 10 before): the live path is the one kept
cheap.
"""

from __future__ import annotations

import numpy as np

from bridge.audio.spec import FeatureSpec
from bridge.signals.bands import BandLayout, BandLevels, Centroid, Levels, as_frames
from bridge.signals.catalog import CLASSIC
from bridge.signals.tempo import TempoTracker
from bridge.signals.triggers import OnsetTriggers

_FLOAT64 = np.dtype(np.float64)


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
        names = [name for stage in self.stages for name in stage.names]
        if tuple(names) != tuple(CLASSIC):  # the catalog lists the columns in stage order
            raise AssertionError(f"catalog and stages disagree: {names} vs {tuple(CLASSIC)}")
        self.names: tuple[str, ...] = tuple(CLASSIC)
        self.columns: dict[str, int] = {n: i for i, n in enumerate(self.names)}
        self._steps = tuple(stage.step for stage in self.stages)
        self._one_frame = (1, self.spec.n_features)

    def reset(self) -> None:
        """Forget all state (auto-gain averages, tempo, trigger thresholds): a new stream."""
        for stage in self.stages:
            stage.reset()

    def process(self, frames) -> np.ndarray:
        """Signals for each frame of ``frames`` (``(n, n_mels + 2)`` extractor output)."""
        if type(frames) is np.ndarray and frames.shape == self._one_frame \
                and frames.dtype is _FLOAT64:  # the live case, checked without as_frames' calls
            x = frames
        else:
            x = as_frames(frames, self.spec)
        n, nm, steps = x.shape[0], self.spec.n_mels, self._steps
        if n == 1:  # the same band energies as below (bit for bit) from a 1-D product
            e = np.dot(np.power(10.0, x[0, :nm] * 0.1), self.layout.matrix).tolist()
            rms, onset = x[0, nm:nm + 2].tolist()
            row = []
            for step in steps:  # each stage's values for this frame, in column order
                row += step(e, rms, onset)
            return np.array((row,), dtype=np.float64)
        if n == 0:
            return np.empty((0, len(self.names)))
        energies = self.layout.energies(x).tolist()  # one product for every stage and frame
        rows = []
        for e, (rms, onset) in zip(energies, x[:, nm:nm + 2].tolist()):
            row = []
            for step in steps:
                row += step(e, rms, onset)
            rows.append(row)
        return np.array(rows, dtype=np.float64)

    def as_dict(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """Columns of a ``process`` result by name."""
        return {name: values[:, i] for i, name in enumerate(self.names)}
