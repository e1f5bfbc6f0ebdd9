"""Engine stages for WLED's sound-sync signals (:mod:`bridge.signals.geq`): ``geq`` as a vector,
``majorpeak`` and ``magnitude`` as columns, from one shared :class:`GeqAnalysis` per frame.

Why two stages: the engine takes a stage's result either as vectors (:class:`Vectors`, one tuple
per name) or as columns of floats, not both; the second stage reads what the first computed for
the same frames, so the three signals cost one analysis. Added to a run only when its mapping
routes one of them (:func:`geq_stages`), so no other run pays for it.
"""

from __future__ import annotations

import numpy as np

from bridge.runtime.stages import Columns, Vectors
from bridge.signals.geq import GeqAnalysis

#: The signals these stages produce: a run adds them when its mapping routes any of these.
SIGNALS = ("geq", "majorpeak", "magnitude")


class GeqStage:
    """The engine stage of ``geq`` (a 16-value vector, :class:`Vectors`). Added to a run only when
    its mapping routes ``geq``, ``majorpeak`` or ``magnitude`` (with :class:`PeakStage`, which
    shares its :class:`GeqAnalysis`: one computation per frame for the three signals)."""

    name = "geq"
    names = ("geq",)

    def __init__(self, spec, analysis: GeqAnalysis | None = None):
        self.analysis = analysis if analysis is not None else GeqAnalysis(spec)
        self.last_frames = None
        self.last_peaks = None

    def start(self) -> None:
        pass

    def process(self, frames: np.ndarray) -> Vectors:
        geq, self.last_peaks = self.analysis.process(frames)
        self.last_frames = frames
        return Vectors(geq=geq)

    def reset(self) -> None:
        self.analysis.reset()

    def close(self) -> None:
        pass


class PeakStage:
    """``majorpeak`` and ``magnitude`` (:class:`Columns`), from the :class:`GeqStage` before it in
    the same run (the frames it just processed), computed here only when it did not."""

    name = "peak"
    names = ("majorpeak", "magnitude")
    _INDEX = {"majorpeak": 0, "magnitude": 1}

    def __init__(self, geq: GeqStage):
        self.geq = geq

    def start(self) -> None:
        pass

    def process(self, frames: np.ndarray) -> Columns:
        g = self.geq
        if g.last_frames is not frames:
            g.process(frames)
        return Columns(self.names, g.last_peaks, self._INDEX)

    def reset(self) -> None:
        pass  # the GeqStage resets the shared analysis

    def close(self) -> None:
        pass


def geq_stages(spec) -> list:
    """The two stages (:class:`GeqStage` then :class:`PeakStage`) a run adds for these signals."""
    g = GeqStage(spec)
    return [g, PeakStage(g)]
