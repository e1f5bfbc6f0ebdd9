"""`ModelRunner`: a model trained at one frame rate, evaluated at every live frame.

Why not hold the last prediction: a model trained at ~7.5 fps would then update every 133 ms. The live
extractor runs at ~60 Hz (hop ``h``), the model at hop ``H = r*h``. Every live frame ``t`` ends where
a model-rate frame of the stream *shifted by phase* ``p = t mod r`` ends (a stream starting at sample
``p*h``), and covers the same ``n_fft`` samples, so its mel dB and RMS are already right. Only two
things depend on the frame rate, and both are recomputed exactly:

- onset strength: ``mean(max(0, db[t] - db[t - r*lag]))`` over mel bands, 0 for ``t < r*lag`` (the
  model's frame lag ``lag`` is ``r*lag`` live frames);
- the causal context: ``r`` independent :class:`ContextBuilder` states, state ``p`` fed the live
  frames ``t`` with ``t mod r = p`` (the frames of the phase-``p`` stream, in order).

So output ``t`` equals what training computed on the phase-shifted stream (tested to 1e-5 against
offline extraction), at the live rate, with the trained window and lag. The runner is one stateful
stage: ``process(live_frames) -> predictions``, ``reset()``; chunk-invariant.
"""

from __future__ import annotations

import numpy as np

from bridge.audio.features import OnsetRing
from bridge.audio.spec import FeatureSpec
from bridge.errors import SpecMismatchError
from bridge.models.context import ContextBuilder

_F64 = np.dtype(np.float64)

#: FeatureSpec fields that must be equal between the model and the live extractor.
SAME_FIELDS = ("sample_rate", "n_fft", "n_mels", "fmin", "fmax", "mel_htk", "mel_norm", "center",
               "window", "power", "amin", "version")


def phase_ratio(model_spec: FeatureSpec, live_spec: FeatureSpec, name: str = "model") -> int:
    """``model hop / live hop`` when the live extractor can serve the model, else a clear error."""
    diffs = [f"{k} {getattr(model_spec, k)!r} (live {getattr(live_spec, k)!r})"
             for k in SAME_FIELDS if getattr(model_spec, k) != getattr(live_spec, k)]
    if diffs:
        raise SpecMismatchError(f"{name} was trained on other features than the live extractor "
                                f"computes: {'; '.join(diffs)}; run the bridge with the model's "
                                "feature spec or re-export the model for this one")
    H, h = model_spec.hop_length, live_spec.hop_length
    if H % h:
        raise SpecMismatchError(
            f"{name} hop {H} ({model_spec.frame_rate:.3f} fps) is not a multiple of the live hop "
            f"{h} ({live_spec.frame_rate:.3f} fps), so it cannot be evaluated at every live frame "
            f"with its trained window and lag; use a live hop that divides {H} "
            f"(e.g. {', '.join(str(d) for d in _divisors(H)[-4:])})")
    return H // h


def _divisors(n: int) -> list[int]:
    return [d for d in range(64, n + 1) if n % d == 0][:8] or [n]


class ModelRunner:
    """Feed live extractor frames ``(n, n_mels + 2)``; get ``(n, model.n_outputs)`` predictions."""

    def __init__(self, model, live_spec: FeatureSpec):
        self.model = model
        self.live_spec = live_spec
        self.ratio = phase_ratio(model.spec, live_spec, getattr(model, "path", "model"))
        self._lag = self.ratio * model.spec.onset_lag
        self._n_mels = model.spec.n_mels
        self._builders = [ContextBuilder(model.context, model.spec.n_features)
                          for _ in range(self.ratio)]
        # the one-frame (live) path's buffers: the frame at the model's onset lag, its context row
        self._x = np.empty(model.spec.n_features)
        self._xdb = self._x[:self._n_mels]
        # the onset at the model's lag, frame by frame (ring: the last `lag` live mel-dB frames)
        self._onset = OnsetRing(self._lag, self._n_mels)
        self._ring = self._onset.ring
        self._row = np.empty(model.n_inputs)
        self._one_shape = (1, model.spec.n_features)
        self.reset()

    @property
    def names(self):
        return self.model.names

    def reset(self) -> None:
        for b in self._builders:
            b.reset()
        self._onset.reset()  # frame t in row t % lag; zeros before the stream start
        self.frames_seen = 0

    def model_frames(self, frames) -> np.ndarray:
        """Live frames with onset recomputed at the model's lag (advances the onset state)."""
        x = np.array(frames, dtype=np.float64)
        n, m, lag = x.shape[0], self._n_mels, self._lag
        db = x[:, :m]
        t0 = self.frames_seen
        history = np.roll(self._ring, -(t0 % lag), axis=0)  # frames t0 - lag .. t0 - 1
        stacked = np.concatenate((history, db))
        first = max(0, lag - t0)  # frames of this block with no frame `lag` back: onset 0
        x[:min(first, n), m + 1] = 0.0
        if first < n:
            rise = stacked[lag + first:] - stacked[first:n]
            np.maximum(rise, 0.0, out=rise)
            x[first:, m + 1] = rise.mean(axis=1)
        self._ring[...] = np.roll(stacked[-lag:], (t0 + n) % lag, axis=0)  # in place (row views)
        return x

    def _process_one(self, frame: np.ndarray) -> np.ndarray:
        """One live frame (``(1, n_features)`` or ``(n_features,)``): the same numbers as the batch
        path, with in-place numpy calls on preallocated buffers (each costs ~0.3-1 µs on a busy
        box; the count matters)."""
        x = self._x
        x[...] = frame
        t = self.frames_seen
        x[self._n_mels + 1] = self._onset.step(self._xdb, t)
        self._builders[t % self.ratio].process_row(x, self._row)
        self.frames_seen = t + 1
        return self.model.predict_row(self._row)

    def process(self, frames) -> np.ndarray:
        if type(frames) is np.ndarray and frames.shape == self._one_shape \
                and frames.dtype is _F64:  # the live case, checked cheaply
            return self._process_one(frames)
        x = np.asarray(frames, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.model.spec.n_features:
            raise ValueError(f"ModelRunner expects (n, {self.model.spec.n_features}) live frames; "
                             f"got {x.shape}")
        n = x.shape[0]
        if n == 0:
            return np.zeros((0, self.model.n_outputs))
        if n == 1:  # the live case
            return self._process_one(x[0])
        mf = self.model_frames(x)
        rows = np.empty((n, self.model.n_inputs))
        for p in range(min(n, self.ratio)):
            p_abs = (self.frames_seen + p) % self.ratio
            rows[p::self.ratio] = self._builders[p_abs].process(mf[p::self.ratio])
        self.frames_seen += n
        return self.model.predict(rows)
