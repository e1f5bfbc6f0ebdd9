"""The engine stage of the audio energy vector (:mod:`bridge.signals.energy`): ``energy`` and
``morph``, and :func:`energy_curves`, the same stage over a whole file (``vjbridge energy``,
``vjbridge predict``).

Why a stage added only when routed: like ``geq`` (:mod:`bridge.runtime.geq_stage`) it costs a
run that does not send it nothing. It reads the tempo (``bpm``, for a segment in beats) from the
stages before it in the same run, the classic signals' tracker or, with ``--link`` and a session
to follow, the Link stage (:class:`TempoTap`): no second tempo tracker.

Why the file path is this stage: design principle 1 (one stateful stage, ``process`` + ``reset``;
offline feeds the file through the same streaming path). :func:`energy_curves` decodes with the
live resampler kernel and hands the extractor one hop at a time, so every frame takes the
extractor's one-frame path, as in the engine; the classic signals and this stage then see the
frames the live run sees, and give the same values (tested: ``tests/signals/test_energy.py``).
"""

from __future__ import annotations

import numpy as np

from bridge.runtime.stages import Columns
from bridge.signals.energy import DEFAULT_SEGMENT, EnergyVector

#: The signals this stage produces: a run adds it when its mapping routes either.
SIGNALS = ("energy", "morph")


class TempoTap:
    """The ``bpm`` column of the frames just processed by earlier stages: each keeps its newest
    result in ``last`` (every call replaces it; the Link stage an empty one while it does not
    follow), and the last of them with a ``bpm`` for these frames wins, as in the engine's row.
    None when none has one."""

    def __init__(self, stages=()):
        self.stages = [s for s in stages if "bpm" in getattr(s, "names", ())]

    def __call__(self, frames):
        bpm = None
        n = frames.shape[0]
        for stage in self.stages:
            last = getattr(stage, "last", None)
            if last is not None and "bpm" in last:
                column = last["bpm"]
                if len(column) == n:
                    bpm = column
        return bpm


class EnergyStage:
    """``energy`` and ``morph`` (:class:`Columns` over the first two of the vector's columns;
    ``last`` keeps all three, ``cumulative`` third)."""

    name = "energy"
    names = SIGNALS
    _INDEX = {"energy": 0, "morph": 1}

    def __init__(self, spec, *, segment=DEFAULT_SEGMENT, tempo=None, **options):
        self.vector = EnergyVector(spec, segment=segment, **options)
        self.tempo = tempo if tempo is not None else TempoTap()

    def start(self) -> None:
        pass

    def process(self, frames: np.ndarray) -> Columns:
        self.last = self.vector.process(frames, self.tempo(frames))
        return Columns(self.names, self.last[:, :2], self._INDEX)  # the engine zips names

    def reset(self) -> None:
        self.vector.reset()

    def close(self) -> None:
        pass


def energy_stage(spec, stages, *, segment=DEFAULT_SEGMENT) -> EnergyStage:
    """The stage a run appends after ``stages`` (it reads their tempo)."""
    return EnergyStage(spec, segment=segment, tempo=TempoTap(stages))


def energy_curves(path, spec, *, segment=DEFAULT_SEGMENT):
    """``(times (n,), values (n, 3) = energy, cumulative, morph)`` (the CSV's order) over a whole
    file through the
    live path: live resampler kernel, the extractor one hop at a time, the classic signals (the
    tempo) and :class:`EnergyStage`, frame by frame. Raises MediaError for a file shorter than
    one window."""
    from bridge.audio.decode import iter_audio
    from bridge.audio.features import FeatureExtractor
    from bridge.errors import MediaError
    from bridge.runtime.pipeline import SignalsStage

    extractor = FeatureExtractor(spec)
    signals = SignalsStage(spec)
    stage = energy_stage(spec, [signals], segment=segment)
    hop = spec.hop_length
    rows = []
    for block in iter_audio(path, sample_rate=spec.sample_rate):
        for start in range(0, block.size, hop):
            frames = extractor.process(block[start:start + hop])
            for i in range(frames.shape[0]):
                one = frames[i:i + 1]
                signals.process(one)
                stage.process(one)
                rows.append(stage.last[0, [0, 2, 1]])
    if not rows:
        raise MediaError(f"{path}: shorter than one analysis window "
                         f"({spec.window_seconds * 1000:.0f} ms); no energy to compute")
    return spec.frame_end_times(len(rows)), np.array(rows)
