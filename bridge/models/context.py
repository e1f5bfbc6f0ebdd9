"""Causal temporal context: what a model may know about the recent past, computed the same live.

Why: in music-visualizer data the visual level is set by the preset and the audio *modulates* it
(``shared/notes/study-pitfalls.md``), so a frame-by-frame model of 66 features follows motion poorly
within a video. Context that a live stream can compute causally - the previous frames of a few summary
channels, their deltas, the level relative to running means (self-normalisation), running activity -
roughly doubled within-video correlation on a first sample. The context travels with the model as a
JSON :class:`ContextSpec` and is computed by :class:`ContextBuilder`, the one implementation used for
training, export checks, ``vjbridge predict`` and the live runner, so there is nothing to re-implement.

All time constants and lags count frames *of the model's own rate* (the live runner feeds a builder
every ``r``-th live frame; see :mod:`bridge.models.runner`). The empty spec (``ContextSpec()``) is the
paper protocol: the 66 features of the current frame, nothing else.

Summary channels of a frame (dB units, so differences are scale free): ``loud`` (mean mel dB),
``low``/``mid``/``high`` (mean dB of the lowest eighth, the next three eighths, the top half of the
mel bands), ``rms_db`` (20 log10 rms, floored at -100 dB), ``onset`` (the frame's onset strength).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from bridge.errors import ConfigError

CHANNELS = ("loud", "low", "mid", "high", "rms_db", "onset")
VERSION = 1


@dataclass(frozen=True, kw_only=True)
class ContextSpec:
    """Which causal context columns follow the frame's own features (JSON-serialisable)."""

    include_frame: bool = True  # the 66 features of the current frame
    channels: tuple[str, ...] = ()  # summary channels the context columns are built from
    lags: tuple[int, ...] = ()  # channel values k frames back (edge-held before the stream start)
    delta: bool = False  # channel - channel one frame back
    taus: tuple[float, ...] = ()  # EMA time constants (frames): x - mean, activity, [z-score]
    zscore: bool = False  # (x - mean) / (running std + 1 dB) per tau
    version: int = VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(self.channels))
        object.__setattr__(self, "lags", tuple(int(k) for k in self.lags))
        object.__setattr__(self, "taus", tuple(float(t) for t in self.taus))
        bad = [c for c in self.channels if c not in CHANNELS]
        if bad:
            raise ConfigError(f"unknown context channel(s) {bad}; choose from {list(CHANNELS)}")
        if any(k < 1 or k > 4096 for k in self.lags):
            raise ConfigError(f"context lags must be 1..4096 frames; got {self.lags}")
        if any(not (0.5 <= t <= 1e6) for t in self.taus):
            raise ConfigError(f"context time constants must be 0.5..1e6 frames; got {self.taus}")
        if self.version != VERSION:
            raise ConfigError(f"context version {self.version} is not supported (this vjbridge "
                              f"reads version {VERSION}); upgrade vjbridge")
        if (self.lags or self.delta or self.taus) and not self.channels:
            raise ConfigError("context lags/delta/taus need at least one channel")
        if not self.include_frame and not self.channels:
            raise ConfigError("a context with neither the frame nor channels has no inputs")

    @property
    def empty(self) -> bool:
        return self.include_frame and not self.channels

    def column_names(self, n_features: int = 66, feature_names=None) -> list[str]:
        names = list(feature_names) if (self.include_frame and feature_names) else (
            [f"f{i}" for i in range(n_features)] if self.include_frame else [])
        ch = self.channels
        names += [f"{c}[t-{k}]" for k in self.lags for c in ch]
        if self.delta:
            names += [f"d_{c}" for c in ch]
        for tau in self.taus:
            names += [f"{c}-mean{tau:g}" for c in ch]
            if self.zscore:
                names += [f"z{tau:g}_{c}" for c in ch]
            names += [f"act{tau:g}_{c}" for c in ch]
        return names

    def n_outputs(self, n_features: int = 66) -> int:
        return len(self.column_names(n_features))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"], d["lags"], d["taus"] = list(self.channels), list(self.lags), list(self.taus)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "ContextSpec":
        try:
            data = json.loads(text)
            return cls(**data)
        except (json.JSONDecodeError, TypeError) as exc:
            raise ConfigError(f"invalid context JSON ({exc})") from None


#: The paper protocol: the current frame's 66 features only.
PAPER = ContextSpec()
#: The performer model's context (frames at ~7.5 fps: taus of 0.5 s, 2 s, 8.5 s).
DEFAULT = ContextSpec(channels=CHANNELS, lags=(1, 2, 3), delta=True, taus=(4.0, 16.0, 64.0),
                      zscore=True)


def _channel_matrix(n_features: int) -> np.ndarray:
    """``frames @ M`` gives the linear channels (all but ``rms_db``, whose column stays 0)."""
    n_mels = n_features - 2
    a, b = max(1, n_mels // 8), max(2, n_mels // 2)
    M = np.zeros((n_features, len(CHANNELS)))
    M[:n_mels, 0] = 1.0 / n_mels
    M[:a, 1] = 1.0 / a
    M[a:b, 2] = 1.0 / (b - a)
    M[b:n_mels, 3] = 1.0 / (n_mels - b)
    M[n_mels + 1, 5] = 1.0
    return M


def channel_values(frames: np.ndarray, n_mels: int) -> np.ndarray:
    """The summary channels of ``(n, n_mels + 2)`` frames: ``(n, len(CHANNELS))``."""
    out = frames @ _channel_matrix(n_mels + 2)
    out[:, 4] = 20.0 * np.log10(np.maximum(frames[:, n_mels], 1e-5))
    return out


class ContextBuilder:
    """``process(frames (n, n_features)) -> (n, n_outputs)``; chunk-invariant; ``reset()``."""

    def __init__(self, spec: ContextSpec = PAPER, n_features: int = 66):
        self.spec = spec
        self.n_features = int(n_features)
        self.n_mels = self.n_features - 2
        self.n_outputs = spec.n_outputs(self.n_features)
        idx = [CHANNELS.index(c) for c in spec.channels]
        self._M = _channel_matrix(self.n_features)[:, idx]
        self._rms_col = idx.index(4) if 4 in idx else None
        self._C = len(idx)
        taus = np.asarray(spec.taus, dtype=np.float64)
        self._a = np.exp(-1.0 / taus)[:, None] if taus.size else np.zeros((0, 1))
        self._b = 1.0 - self._a
        self._L = max(spec.lags, default=0)
        self._frame_cols = self.n_features if spec.include_frame else 0
        self._one = _OneRow(self) if not spec.empty else None
        self.reset()

    def reset(self) -> None:
        self._hist = None  # (L, C): the last L channel rows, oldest first
        self._prev = None
        self._mean = self._var = self._act = None
        if self._one is not None:
            self._one.active = False

    def process(self, frames) -> np.ndarray:
        x = np.asarray(frames, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"ContextBuilder expects (n, {self.n_features}) frames; got {x.shape}")
        n = x.shape[0]
        s = self.spec
        if n == 0:
            return np.zeros((0, self.n_outputs))
        if s.empty:
            return x.copy()
        if n == 1:
            out = np.empty((1, self.n_outputs))
            self.process_row(x[0], out[0])
            return out
        if self._one is not None:
            self._one.release(self)  # the state, if the one-row path holds it
        ch = x @ self._M
        if self._rms_col is not None:
            ch[:, self._rms_col] = 20.0 * np.log10(np.maximum(x[:, self.n_mels], 1e-5))
        C, L = self._C, self._L
        if self._prev is None:
            first = ch[0]
            self._prev = first.copy()
            self._hist = np.tile(first, (L, 1))
            self._mean = np.tile(first, (len(s.taus), 1))
            self._var = np.zeros((len(s.taus), C))
            self._act = np.zeros((len(s.taus), C))
        out = np.empty((n, self.n_outputs))
        col = self._frame_cols
        if col:
            out[:, :col] = x
        if L:
            full = np.concatenate((self._hist, ch)) if n > 1 else np.vstack((self._hist, ch))
            for k in s.lags:
                out[:, col:col + C] = full[L - k:L - k + n]
                col += C
            self._hist = full[-L:]
        if n == 1:
            d = ch - self._prev
        else:
            d = np.empty_like(ch)
            d[0] = ch[0] - self._prev
            np.subtract(ch[1:], ch[:-1], out=d[1:])
        self._prev = ch[-1].copy()
        if s.delta:
            out[:, col:col + C] = d
            col += C
        T = len(s.taus)
        if T:
            per = 3 if s.zscore else 2
            block = out[:, col:col + T * per * C].reshape(n, T, per, C)
            a, b, m, v, g = self._a, self._b, self._mean, self._var, self._act
            ad = np.abs(d)
            for i in range(n):  # recursive filters: a few small vector ops per frame
                m = a * m + b * ch[i]
                e = ch[i] - m
                v = a * v + b * (e * e)
                g = a * g + b * ad[i]
                row = block[i]
                row[:, 0] = e
                if per == 3:
                    row[:, 1] = e / (np.sqrt(v) + 1.0)
                row[:, per - 1] = g
            self._mean, self._var, self._act = m, v, g
        return out

    def process_row(self, x: np.ndarray, out: np.ndarray) -> None:
        """One frame ``x`` (``(n_features,)`` float64) -> its context row written into ``out``
        (``(n_outputs,)`` float64, contiguous). The live path: the same numbers as :meth:`process`
        (same operations in the same order), with every temporary preallocated."""
        if self.spec.empty:
            out[:] = x
        else:
            self._one(self, x, out)


class _OneRow:
    """:meth:`ContextBuilder.process_row` for a non-empty spec, with its own state layout.

    Every numpy call costs ~0.3-1 µs on a busy 2-core box, and broadcast or strided operands cost
    about twice contiguous ones (measured: ``(T, 1) * (T, C)`` 1.1 µs, the same product with ``a``
    stored full-size 0.4-0.7 µs; a divide into a strided view 1.15 µs, contiguous 0.4 µs). So the
    recursive filters' state lives in one contiguous ``(rows, T, C)`` array ``S`` ordered
    ``e, [z,] g, m, v``: one multiply scales ``g, m, v`` by full-size ``a``, one multiply and one
    add update ``g`` and ``m`` from ``|d|`` and the channels (both stored once per tau), and one
    transposed copy writes ``e, [z,] g`` of every tau into the output row. The channel history is a
    ring (no shifting). Each value is the same arithmetic in the same order as the batch path of
    :meth:`ContextBuilder.process` (only the channel product is a matrix-vector instead of a
    matrix-matrix product: the two agree to ~1e-14 dB). The state moves to and from the builder's
    batch-path arrays when the two paths alternate (:meth:`take`, :meth:`release`).
    """

    def __init__(self, b: ContextBuilder):
        s, C, T = b.spec, b._C, len(b.spec.taus)
        self.C, self.T, self.L = C, T, b._L
        self.R = max(b._L, 1)  # ring rows: the last L channel rows (or just the previous one)
        # ring row holding the channels k frames back, when the newest row is p
        self.lag_rows = [np.asarray([(p - k + 1) % self.R for k in s.lags], dtype=np.intp)
                         for p in range(self.R)]
        self.per = per = 3 if s.zscore else 2
        self.zscore = s.zscore
        self.rms = None if b._rms_col is None else (b._rms_col, b.n_mels)
        self.M = np.ascontiguousarray(b._M)
        self.ch = np.empty(C)
        self.d = np.empty(C)
        self.ring = np.empty((self.R, C))
        # S = e, [z,] g, m, v (per tau); W = |d|, channels (per tau): the inputs of g and m
        self.S = np.zeros((per + 2, T, C))
        self.iG = per - 1
        self.W = np.empty((2, T, C))
        a = np.broadcast_to(b._a, (T, C))
        self.A = np.ascontiguousarray(np.broadcast_to(a, (3, T, C)))  # for g, m, v
        self.B = np.ascontiguousarray(np.broadcast_to(1.0 - a, (2, T, C)))  # for g, m
        self.Bv = self.B[0]
        self.tmp2 = np.empty((2, T, C))
        self.tmp = np.empty((T, C))
        self.src = self.S[:per].transpose(1, 0, 2)  # e, [z,] g of every tau, in output order
        S, iG = self.S, self.iG  # views made once (a view costs ~0.1 µs per call)
        self.views = (self.W, self.W[0], self.W[1], S[iG:], S[iG:iG + 2], S[0], S[1], S[iG + 1],
                      S[iG + 2])
        self.rows = list(self.ring)  # ring[i] as views
        self.active = False  # True while this object holds the builder's state
        self._out = None

    def take(self, b: ContextBuilder, ch: np.ndarray) -> None:
        """Adopt the builder's state (``ch``: the first frame's channels when there is none)."""
        S, m, v, g = self.S, self.iG + 1, self.iG + 2, self.iG
        if b._prev is None:  # the first frame: the batch path's initial state
            self.ring[:] = ch
            S[m] = ch
            S[v] = 0.0
            S[g] = 0.0
        else:
            self.ring[:] = b._hist if self.L else b._prev
            if self.T:
                S[m], S[v], S[g] = b._mean, b._var, b._act
        self.p = self.R - 1  # the newest ring row
        self.active = True

    def release(self, b: ContextBuilder) -> None:
        """Give the state back to the builder's batch-path arrays."""
        if not self.active:
            return
        R, p, S = self.R, self.p, self.S
        b._prev = self.ring[p].copy()
        b._hist = self.ring[[(p + 1 + i) % R for i in range(self.L)]]
        b._mean, b._var, b._act = S[self.iG + 1].copy(), S[self.iG + 2].copy(), S[self.iG].copy()
        self.active = False

    def _views(self, b: ContextBuilder, out: np.ndarray) -> None:
        s, C, T = b.spec, self.C, self.T
        col = b._frame_cols
        self.frame = out[:col] if col else None
        self.lags = out[col:col + C * len(s.lags)].reshape(len(s.lags), C) if s.lags else None
        col += C * len(s.lags)
        if s.delta:
            self.delta = out[col:col + C]
            col += C
        else:
            self.delta = self.d
        self.block = out[col:col + T * self.per * C].reshape(T, self.per, C)
        self._out = out

    def __call__(self, b: ContextBuilder, x: np.ndarray, out: np.ndarray) -> None:
        if out is not self._out:
            self._views(b, out)
        ch = self.ch
        np.dot(x, self.M, ch)
        if self.rms is not None:
            c, j = self.rms
            ch[c] = 20.0 * np.log10(max(x[j], 1e-5))
        if not self.active:
            self.take(b, ch)
        if self.frame is not None:
            self.frame[...] = x
        rows, p = self.rows, self.p
        d = self.delta
        np.subtract(ch, rows[p], d)  # d = ch - previous channels
        if self.lags is not None:
            self.ring.take(self.lag_rows[p], 0, self.lags)
        p += 1
        if p == self.R:
            p = 0
        rows[p][...] = ch
        self.p = p
        if self.T:
            W, ad, chs, gmv, gm, e, z, m, v = self.views
            tmp = self.tmp
            np.abs(d, ad)
            chs[...] = ch
            np.multiply(self.A, gmv, gmv)  # a * g, a * m, a * v
            np.multiply(self.B, W, self.tmp2)  # b * |d|, b * ch
            np.add(gm, self.tmp2, gm)  # g = a * g + b * |d|, m = a * m + b * ch
            np.subtract(chs, m, e)  # e = ch - m
            if self.zscore:
                np.multiply(e, e, tmp)  # v = a * v + b * (e * e)
                np.multiply(self.Bv, tmp, tmp)
                np.add(v, tmp, v)
                np.sqrt(v, tmp)  # z = e / (sqrt(v) + 1)
                np.add(tmp, 1.0, tmp)
                np.divide(e, tmp, z)
            self.block[...] = self.src
