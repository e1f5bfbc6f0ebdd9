"""The engine's two small contracts: a :class:`Stage` turns feature frames into named signals, an
:class:`Output` sends one dict of values per output tick.

Why protocols instead of base classes: the models, classic signals and mapping/sink packages are
written independently; the engine only needs these few methods, so each package's own class is
adapted with a few lines (see :mod:`bridge.runtime.pipeline`) instead of inheriting from the engine.

Stage:  ``start()``, ``process(frames (n, n_features)) -> {name: array (n,)}``, ``reset()``
        (the audio was discontinuous: forget history), ``close()``; optional ``feed(samples)``:
        the resampled audio, before the frames it completes (a stage with its own extractor,
        :class:`bridge.runtime.z_stage.ZStage`).
Output: ``start()``, ``send(values: {name: float}) -> None`` (never blocks, never raises for a
        receiver that is away: count it in ``drops``), ``idle()`` (outputs to idle values),
        ``close()``; attributes ``drops`` and ``describe()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Stage(Protocol):
    name: str

    def start(self) -> None: ...
    def process(self, frames: np.ndarray) -> dict[str, np.ndarray]: ...
    def reset(self) -> None: ...
    def close(self) -> None: ...


@runtime_checkable
class Output(Protocol):
    drops: int

    def start(self) -> None: ...
    def send(self, values: dict[str, float]) -> None: ...
    def idle(self) -> None: ...
    def close(self) -> None: ...
    def describe(self) -> str: ...


class Columns(Mapping):
    """A stage's result as ``{name: column}`` over one ``(n, k)`` array, without slicing it.

    Why: a stage that computes all its signals into one array (the classic signals, a model's
    outputs) would otherwise build one column view per name per frame, and the engine would then
    convert each one-element view to a float. The engine recognises ``Columns`` and turns a row into
    floats with one ``tolist()``; anyone else sees an ordinary read-only mapping of columns."""

    __slots__ = ("names", "matrix", "_index")

    def __init__(self, names: tuple[str, ...], matrix: np.ndarray, index: dict[str, int]):
        self.names = names  # column order of ``matrix``
        self.matrix = matrix
        self._index = index  # name -> column (made once by the stage)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.matrix[:, self._index[name]]

    def __iter__(self):
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


class Vectors(dict):
    """A stage's result whose signals are vectors: ``{name: (n, size) array}``. The engine puts
    row ``i`` of each into the tick's values as a tuple of ``size`` floats (one OSC message with
    ``size`` arguments: the ``mel`` spectrum), where :class:`Columns` give one float per name."""

    __slots__ = ()


class SpectrumStage:
    """``mel``: the frame's 64 mel bands as levels 0..1, ``(dB - floor) / -floor`` clipped (floor
    -80 dB, :data:`bridge.signals.catalog.SPECTRUM_FLOOR_DB`). Stateless; added to a run only when
    its mapping routes ``mel``, so no other run pays for it."""

    name = "spectrum"
    names = ("mel",)

    def __init__(self, spec):
        from bridge.signals.catalog import SPECTRUM_FLOOR_DB

        self._n = spec.n_mels
        self._floor = SPECTRUM_FLOOR_DB

    def start(self) -> None:
        pass

    def process(self, frames: np.ndarray) -> Vectors:
        level = (frames[:, :self._n] - self._floor) * (-1.0 / self._floor)
        return Vectors(mel=np.clip(level, 0.0, 1.0, out=level))

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


class FeatureColumns:
    """The extractor's own columns as signals: ``rms``, ``onset`` and ``low``/``mid``/``high``
    (mean mel dB of the lower, middle and upper third of the bands). Stateless; always available,
    so the engine can run and be tested before any model or signal package exists."""

    name = "features"
    SIGNALS = ("rms", "onset", "low", "mid", "high")

    def __init__(self, spec):
        n = spec.n_mels
        third = n // 3
        self._n = n
        self._bands = {"low": slice(0, third), "mid": slice(third, 2 * third),
                       "high": slice(2 * third, n)}

    def start(self) -> None:
        pass

    def process(self, frames: np.ndarray) -> dict[str, np.ndarray]:
        out = {"rms": frames[:, self._n], "onset": frames[:, self._n + 1]}
        for key, band in self._bands.items():
            out[key] = frames[:, band].mean(axis=1)
        return out

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass
