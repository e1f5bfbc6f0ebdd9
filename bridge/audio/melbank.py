"""Mel filterbank and window, computed here so the live daemon never imports librosa.

``mel_filterbank`` reproduces ``librosa.filters.mel`` (Slaney's auditory-toolbox mel scale by
default, optional HTK scale, Slaney area normalisation) and is tested equal to it. librosa returns
the bank as float32; we round through float32 too, because those rounded weights are what the
trained models saw.
"""

from __future__ import annotations

import numpy as np

_F_SP = 200.0 / 3           # Slaney: Hz per mel below the break
_MIN_LOG_HZ = 1000.0        # Slaney: linear below, logarithmic above
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(frequencies, *, htk: bool = False) -> np.ndarray:
    f = np.asanyarray(frequencies, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    mels = f / _F_SP
    log_region = f >= _MIN_LOG_HZ
    safe = np.where(log_region, f, _MIN_LOG_HZ)
    return np.where(log_region, _MIN_LOG_MEL + np.log(safe / _MIN_LOG_HZ) / _LOGSTEP, mels)


def mel_to_hz(mels, *, htk: bool = False) -> np.ndarray:
    m = np.asanyarray(mels, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    freqs = _F_SP * m
    log_region = m >= _MIN_LOG_MEL
    return np.where(log_region, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), freqs)


def mel_frequencies(n: int, *, fmin: float, fmax: float, htk: bool = False) -> np.ndarray:
    """``n`` frequencies (Hz) equally spaced on the mel scale from ``fmin`` to ``fmax``."""
    lo, hi = hz_to_mel(fmin, htk=htk), hz_to_mel(fmax, htk=htk)
    return mel_to_hz(np.linspace(lo, hi, n), htk=htk)


def mel_filterbank(*, sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0,
                   fmax: float | None = None, htk: bool = False,
                   norm: str | None = "slaney") -> np.ndarray:
    """Triangular mel filters, shape ``(n_mels, 1 + n_fft // 2)``, float32 like librosa."""
    if fmax is None:
        fmax = sample_rate / 2.0
    fft_freqs = np.fft.rfftfreq(n_fft, d=1.0 / sample_rate)
    edges = mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax, htk=htk)
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    # Round to float32 before normalising, then again after: the same two roundings as librosa.
    weights = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    if norm == "slaney":
        weights = weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    elif norm is not None:
        raise ValueError(f"norm must be 'slaney' or None, got {norm!r}")
    return weights.astype(np.float32)


def periodic_hann(n: int) -> np.ndarray:
    """The periodic Hann window (``scipy.signal.get_window('hann', n)``), as librosa's STFT uses."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


class MelProjector:
    """``power @ bank.T`` computed only where the filters are non-zero.

    Each triangular filter touches a narrow run of bins, so the dense product is ~97% multiplications
    by zero. Filters are grouped in runs of ``group`` and each group multiplies only the bins it
    covers: the same sums, about four times fewer operations, still one BLAS call per group.
    """

    def __init__(self, bank: np.ndarray, *, group: int = 16):
        weights = np.asarray(bank, dtype=np.float64)
        self.n_mels, self.n_bins = weights.shape
        self._parts = []
        for first in range(0, self.n_mels, group):
            rows = weights[first:first + group]
            used = np.flatnonzero(rows.any(axis=0))
            lo, hi = (int(used[0]), int(used[-1]) + 1) if used.size else (0, 1)
            self._parts.append((first, first + rows.shape[0], lo, hi,
                                np.ascontiguousarray(rows[:, lo:hi].T)))

    def __call__(self, power: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Mel energies of ``power`` (``(k, n_bins)``) written into ``out`` (``(k, n_mels)``)."""
        for first, last, lo, hi, part in self._parts:
            np.matmul(power[:, lo:hi], part, out=out[:, first:last])
        return out
