"""The engine stage of the musical mappings (:mod:`bridge.signals.musical`): ``pitch``, ``warmth``,
``roughness`` and ``speed`` as columns.

Why a stage of its own, added only when routed: the chroma peaks cost ~25 numpy calls per frame,
which a run that does not route any of the four should not pay. ``speed`` needs the frame's tempo,
which another stage computes: this stage runs after them in the same engine call (the engine runs
its stages in order on the same frames) and reads ``bpm`` from the newest result of the last of
``tempo_from`` that produced one (the tempo tracker, or the Link session a ``--link`` run
follows, whose values win in the engine's row too).
"""

from __future__ import annotations

import numpy as np

from bridge.runtime.stages import Columns
from bridge.signals.musical import NAMES, MusicalSignals

#: The signals this stage produces: a run adds it when its mapping routes any of these.
SIGNALS = NAMES


class MusicalStage:
    name = "musical"
    names = NAMES

    def __init__(self, spec, tempo_from=()):
        self.impl = MusicalSignals(spec)
        self.tempo_from = list(tempo_from)  # stages with a ``last`` result holding ``bpm``
        self._index = {n: i for i, n in enumerate(NAMES)}

    def start(self) -> None:
        pass

    def _bpm(self, n: int):
        bpm = None
        for stage in self.tempo_from:
            last = getattr(stage, "last", None)
            if last is not None and "bpm" in last:
                column = last["bpm"]
                if len(column) == n:
                    bpm = column
        return bpm

    def process(self, frames: np.ndarray) -> Columns:
        return Columns(NAMES, self.impl.process(frames, self._bpm(frames.shape[0])), self._index)

    def reset(self) -> None:
        self.impl.reset()

    def close(self) -> None:
        pass
