"""`ZStage`: the CPPN latent ``z`` live (``/vjbridge/z``), from its own extractor on the audio.

Why its own extractor: NeuroMV's z is a mel spectrogram at hop 1/30 s with a 1/15 s window, which
the live 60 Hz extractor (n_fft 2048) cannot give by phase-shifting (another window, and 735 is no
multiple of 368). So the engine hands this stage the resampled audio (``feed``, before the frames
it completes) and a :class:`FeatureExtractor` at :func:`bridge.audio.zlatent.z_spec` turns it into
the same raw frames an offline render computes (the same streaming object both ways). Live
frames are then given the newest z frame that had ended by their own end sample (causal: never a
z frame from audio after the live frame), normalised with :class:`RunningNorm`.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from bridge.audio.features import FeatureExtractor
from bridge.audio.zlatent import DEFAULT_BANDS, RunningNorm, z_spec
from bridge.errors import SpecMismatchError
from bridge.runtime.stages import Vectors


class ZStage:
    name = "z"
    names = ("z",)

    def __init__(self, live_spec, spec=None):
        self.spec = spec if spec is not None else z_spec(DEFAULT_BANDS, live_spec.sample_rate)
        if self.spec.sample_rate != live_spec.sample_rate:
            raise SpecMismatchError(f"the z spec runs at {self.spec.sample_rate} Hz but the live "
                                    f"extractor at {live_spec.sample_rate} Hz")
        self._live_hop, self._live_n_fft = live_spec.hop_length, live_spec.n_fft
        self.extractor = FeatureExtractor(self.spec)
        self.norm = RunningNorm(self.spec.n_mels, self.spec.frame_rate)
        self.reset()

    def start(self) -> None:
        pass

    def reset(self) -> None:
        self.extractor.reset()
        self.norm.reset()
        self._queue: deque = deque()  # (end sample, z row) not yet reached by a live frame
        self._current = np.zeros(self.spec.n_mels)
        self._t = 0  # live frames processed since the stream started

    def feed(self, samples: np.ndarray) -> None:
        frames = self.extractor.process(samples)
        if not frames.shape[0]:
            return
        z = self.norm.process(frames[:, :self.spec.n_mels])
        first = self.extractor.frames_emitted - frames.shape[0]
        hop, n_fft = self.spec.hop_length, self.spec.n_fft
        for i, row in enumerate(z):
            self._queue.append(((first + i) * hop + n_fft, row))

    def process(self, frames: np.ndarray) -> Vectors:
        n = frames.shape[0]
        out = np.empty((n, self.spec.n_mels))
        queue = self._queue
        for i in range(n):
            end = self._t * self._live_hop + self._live_n_fft
            self._t += 1
            while queue and queue[0][0] <= end:
                self._current = queue.popleft()[1]
            out[i] = self._current
        return Vectors(z=out)

    def close(self) -> None:
        pass
