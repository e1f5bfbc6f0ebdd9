"""Band levels with auto-gain, spectral centroid and the rms/onset columns, from the live frames.

Why from the mel frames and not a second FFT: the extractor already pays for one FFT per frame and its
64 mel bands cover the spectrum; summing bands is a matrix product of a few hundred multiply-adds.

Every stage here eats the extractor's frames ``(n, n_mels + 2)`` (mel dB, rms, onset), returns
``(n, k)`` and has ``reset()``. Time constants are given in seconds and converted with
``spec.frame_rate``, so they mean the same at 8, 60 or 100 frames per second. The per-frame recursions
run as plain Python floats: at one frame per call (the live case) that is much cheaper than numpy on
tiny arrays, and a whole file fed at once gives exactly the same numbers. Each stage's work for one
frame is its ``step(energies, rms, onset) -> values`` method, called with plain floats, so
:class:`~bridge.signals.classic.ClassicSignals` can run all stages on a frame after one shared
band-energy product and write one output row (no per-stage arrays, views or element writes).

Band edges (a mel band belongs to the band its centre frequency falls in; the centres are the
``librosa.mel_frequencies(n_mels + 2, fmin, fmax)[1:-1]`` of the spec, 51 Hz apart below 1 kHz with
the default spec)::

    low    fmin  - 250 Hz      kick   40 - 160 Hz   (triggers, see triggers.py)
    mid    250   - 2000 Hz     snare  1000 - 5000 Hz
    high   2000  - fmax
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from bridge.audio.melbank import hz_to_mel, mel_filterbank, mel_frequencies, periodic_hann
from bridge.audio.spec import FeatureSpec

LOW_MID_HZ = 250.0
MID_HIGH_HZ = 2000.0
KICK_BAND_HZ = (40.0, 160.0)
SNARE_BAND_HZ = (1000.0, 5000.0)

#: Columns of :meth:`BandLayout.energies`: band powers (sum of mel power) and the centroid numerator.
ENERGY_COLUMNS = ("low", "mid", "high", "kick", "snare", "total", "centroid_num")
_ATANH_HALF = math.atanh(0.5)


def one_pole(seconds: float, frame_rate: float) -> float:
    """Per-frame coefficient of a one-pole smoother with time constant ``seconds`` (0 = instant)."""
    if seconds <= 0:
        return 1.0
    return 1.0 - math.exp(-1.0 / (seconds * frame_rate))


class BandLayout:
    """Which mel bands make up each band, and the matrix that sums their power in one product.

    ``energies(frames)`` returns ``(n, 7)``: power in low, mid, high, kick, snare, all bands, and
    ``sum(power * centre_hz)``. ``fullscale[c]`` is what column ``c`` reads for a full-scale sine in
    the middle of that band (measured through the same filterbank), which turns a dBFS floor into
    band power.
    """

    def __init__(self, spec: FeatureSpec | None = None):
        self.spec = s = spec if spec is not None else FeatureSpec()
        self.centres_hz = mel_frequencies(s.n_mels + 2, fmin=s.fmin, fmax=s.fmax,
                                          htk=s.mel_htk)[1:-1]
        c = self.centres_hz
        bands = {name: self._mask(lo, hi) for name, (lo, hi) in {
            "low": (-np.inf, LOW_MID_HZ), "mid": (LOW_MID_HZ, MID_HIGH_HZ),
            "high": (MID_HIGH_HZ, np.inf), "kick": KICK_BAND_HZ, "snare": SNARE_BAND_HZ}.items()}
        bands["total"] = np.ones(s.n_mels, dtype=bool)
        self.masks = bands
        w = np.zeros((s.n_mels, len(ENERGY_COLUMNS)))
        for j, name in enumerate(ENERGY_COLUMNS[:-1]):
            w[:, j] = bands[name]
        w[:, -1] = c
        self.matrix = w
        self.fullscale = self._fullscale()

    def _mask(self, lo_hz: float, hi_hz: float) -> np.ndarray:
        """The mel bands centred in ``[lo_hz, hi_hz)``; none there (tiny n_mels, a narrow
        fmin..fmax or band): the one nearest the middle of the range (open ends: 0 Hz, fmax)."""
        c = self.centres_hz
        mask = (c >= lo_hz) & (c < hi_hz)
        if not mask.any():
            lo = lo_hz if math.isfinite(lo_hz) else 0.0
            hi = hi_hz if math.isfinite(hi_hz) else self.spec.fmax
            mask[int(np.argmin(np.abs(c - (lo + hi) / 2)))] = True
        return mask

    def band_hz(self, name: str) -> tuple[float, float]:
        """Lowest and highest centre frequency (Hz) of the mel bands in band ``name``."""
        return self._centres_span(self.masks[name])

    def _centres_span(self, mask: np.ndarray) -> tuple[float, float]:
        c = self.centres_hz[mask]
        return float(c[0]), float(c[-1])

    def _filterbank(self) -> np.ndarray:
        s = self.spec
        return mel_filterbank(sample_rate=s.sample_rate, n_fft=s.n_fft, n_mels=s.n_mels, fmin=s.fmin,
                              fmax=s.fmax, htk=s.mel_htk, norm=s.mel_norm).astype(np.float64)

    def _sine_power(self, weights: np.ndarray, bank: np.ndarray) -> float:
        """What a band summing ``weights`` (0/1 per mel band) reads for a full-scale sine at the
        geometric middle of its centres."""
        s = self.spec
        t = np.arange(s.n_fft) / s.sample_rate
        f = float(np.sqrt(np.prod(self._centres_span(weights > 0))))
        power = np.abs(np.fft.rfft(periodic_hann(s.n_fft) * np.sin(2 * np.pi * f * t))) ** 2
        return float((bank @ power) @ weights)

    def _fullscale(self) -> np.ndarray:
        bank = self._filterbank()
        out = np.zeros(len(ENERGY_COLUMNS))
        for j, name in enumerate(ENERGY_COLUMNS[:-2]):
            out[j] = self._sine_power(self.matrix[:, j], bank)
        out[-2] = out[:3].min()
        out[-1] = np.inf
        return out

    def band_column(self, name: str, lo_hz: float, hi_hz: float) -> "BandColumn":
        """Band ``name`` (``kick``, ``snare``) redrawn over ``lo_hz..hi_hz``: its mask and full-scale
        reference, computed without changing the layout (so a control thread can do the FFT work
        and the engine thread only :meth:`set_column`)."""
        if name not in ("kick", "snare"):
            raise KeyError(name)  # low/mid/high feed the levels' floors; the total is every band
        mask = self._mask(float(lo_hz), float(hi_hz))
        # weights as a column of a matrix shaped like self.matrix (a strided view): the dot
        # product then sums in the same order as at construction, so the same band gives the
        # same full-scale reference bit for bit
        w = np.zeros_like(self.matrix)
        j = ENERGY_COLUMNS.index(name)
        w[:, j] = mask
        return BandColumn(name, mask, self._sine_power(w[:, j], self._filterbank()),
                          *self._centres_span(mask))

    def set_column(self, column: "BandColumn") -> None:
        """Use a :meth:`band_column` from now on (its matrix column in place: every stage sharing
        this layout sees it on its next frame)."""
        j = ENERGY_COLUMNS.index(column.name)
        self.masks[column.name] = column.mask
        self.matrix[:, j] = column.mask
        self.fullscale[j] = column.fullscale

    def energies(self, frames: np.ndarray) -> np.ndarray:
        """``(n, 7)`` band powers of the frames' mel dB columns (see :data:`ENERGY_COLUMNS`)."""
        db = frames[:, :self.spec.n_mels]
        return np.power(10.0, db * 0.1) @ self.matrix


class BandColumn(NamedTuple):
    """One band of a :class:`BandLayout`: which mel bands it sums and its full-scale reading."""

    name: str
    mask: np.ndarray
    fullscale: float
    lo_centre_hz: float  # the lowest and highest centre frequency of its mel bands
    hi_centre_hz: float


def as_frames(frames, spec: FeatureSpec) -> np.ndarray:
    """Check ``frames`` is ``(n, n_mels + 2)`` float and return it as a 2-D float64 array."""
    if (type(frames) is np.ndarray and frames.ndim == 2 and frames.dtype == np.float64
            and frames.shape[1] == spec.n_features):
        return frames  # the live path: extractor output as is
    from bridge.errors import InputError

    x = np.asarray(frames, dtype=np.float64)
    if x.ndim == 1 and x.size == spec.n_features:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != spec.n_features:
        raise InputError(f"signal stages expect extractor frames of shape (n, {spec.n_features}) "
                         f"(mel dB, rms, onset); got shape {x.shape}. Feed FeatureExtractor output "
                         "built from the same FeatureSpec.")
    return x


class Stage:
    """Common plumbing: ``process(frames) -> (n, len(names))`` computes the band energies once, then
    calls ``step(energies_row, rms, onset)`` frame by frame (the per-frame work of a stage, on plain
    floats; it returns the stage's ``len(names)`` values for that frame)."""

    names: tuple[str, ...] = ()
    needs_layout = True  # False for stages that read only the rms/onset columns

    def __init__(self, spec: FeatureSpec | None = None, *, layout: BandLayout | None = None):
        self.spec = spec if spec is not None else FeatureSpec()
        if layout is None and self.needs_layout:
            layout = BandLayout(self.spec)
        self.layout = layout
        self.reset()

    def reset(self) -> None:  # pragma: no cover - every stage overrides
        raise NotImplementedError

    def process(self, frames) -> np.ndarray:
        x = as_frames(frames, self.spec)
        n = x.shape[0]
        if n == 0:
            return np.empty((0, len(self.names)))
        nm = self.spec.n_mels
        energies = self.layout.energies(x).tolist() if self.needs_layout else [None] * n
        step = self.step
        return np.array([step(e, rms, onset) for e, (rms, onset)
                         in zip(energies, x[:, nm:nm + 2].tolist())], dtype=np.float64)

    def step(self, energies: list | None, rms: float, onset: float):
        """One frame: its :data:`ENERGY_COLUMNS` values (a list), rms and onset -> the values."""
        raise NotImplementedError  # pragma: no cover - every stage overrides


class BandLevels(Stage):
    """``low``, ``mid``, ``high``: band levels self-normalised like Milkdrop's bass/mid/treb.

    Per band and frame: ``a = sqrt(band power)`` (an amplitude); an envelope follows ``a`` with
    ``attack`` / ``release`` time constants (10 ms / 150 ms: a hit shows on its first frame and
    falls over about a quarter second); a long-term average of ``a`` (time constant ``longterm``,
    5 s) is the reference; the output is ``tanh(atanh(0.5) * envelope / reference)``, so the band's
    own long-term average reads 0.5, twice it 0.76, three times 0.91, and silence 0. Scaling the
    input by any gain leaves the output unchanged once the average has settled (about ``longterm``
    after a level change). The average starts as a plain running mean over the first ``longterm``
    seconds of sound, so the first notes are already near 0.5 instead of pinned at 1.

    Below ``floor_dbfs`` (the band power of a sine that many dB below full scale) a band counts as
    silent: the average does not learn from it, and the reference never drops below that floor, so
    hiss in a quiet room stays near 0 instead of being amplified to 0.5.
    """

    names = ("low", "mid", "high")

    def __init__(self, spec: FeatureSpec | None = None, *, attack: float = 0.010,
                 release: float = 0.150, longterm: float = 5.0, floor_dbfs: float = -70.0,
                 layout: BandLayout | None = None):
        self.attack, self.release, self.longterm, self.floor_dbfs = attack, release, longterm, \
            floor_dbfs
        super().__init__(spec, layout=layout)
        fr = self.spec.frame_rate
        self._a_att = one_pole(attack, fr)
        self._a_rel = one_pole(release, fr)
        self._a_long = one_pole(longterm, fr)
        self._floor = [math.sqrt(self.layout.fullscale[j] * 10 ** (floor_dbfs / 10))
                       for j in range(3)]
        self.gains = [1.0, 1.0, 1.0]
        self._k = [_ATANH_HALF] * 3  # atanh(0.5) * gain: 1 leaves the level bit for bit as is

    def set_gain(self, band: str, gain: float) -> None:
        """Multiply ``band``'s (low, mid, high) auto-gained level by ``gain`` before the tanh soft
        clip (a live trim: 2 doubles what the band reads before clipping, 0 silences it)."""
        j = self.names.index(band)
        self.gains[j] = float(gain)
        self._k[j] = _ATANH_HALF * float(gain)

    def set_release(self, seconds: float) -> None:
        """The envelopes' release time constant (s): how long low/mid/high take to fall."""
        self.release = float(seconds)
        self._a_rel = one_pole(self.release, self.spec.frame_rate)

    def reset(self) -> None:
        self._env = [0.0, 0.0, 0.0]
        self._avg = [0.0, 0.0, 0.0]
        self._count = [0, 0, 0]

    def step(self, energies, rms, onset) -> list:
        a_att, a_rel, a_long = self._a_att, self._a_rel, self._a_long
        env, avg, count, floor, k = self._env, self._avg, self._count, self._floor, self._k
        sqrt, tanh = math.sqrt, math.tanh
        level = [0.0, 0.0, 0.0]
        for j in (0, 1, 2):
            a = sqrt(energies[j])
            e = env[j]
            e += (a_att if a > e else a_rel) * (a - e)
            env[j] = e
            fl = floor[j]
            if a > fl:
                n = count[j] = count[j] + 1
                avg[j] += (1.0 / n if n * a_long < 1.0 else a_long) * (a - avg[j])
            level[j] = tanh(k[j] * e / (avg[j] if avg[j] > fl else fl))
        return level


class Centroid(Stage):
    """``spectralcentroid`` (Hz) and ``spectralcentroidnorm`` (0..1 along the mel scale).

    The centroid is the mel-power-weighted mean of the mel band centre frequencies,
    ``sum(P_b * f_b) / sum(P_b)``: for a pure tone it reads the tone's frequency within about one
    band spacing (51 Hz below 1 kHz, about 7% of the frequency above with the default spec). The
    normalised value is ``(mel(centroid) - mel(fmin)) / (mel(fmax) - mel(fmin))``, which spreads
    bass, voice and cymbals evenly over 0..1. When the total power is below ``floor_dbfs`` (no
    sound) both hold their last value (0 before any sound).
    """

    names = ("spectralcentroid", "spectralcentroidnorm")

    def __init__(self, spec: FeatureSpec | None = None, *, floor_dbfs: float = -70.0,
                 layout: BandLayout | None = None):
        self.floor_dbfs = floor_dbfs
        super().__init__(spec, layout=layout)
        s = self.spec
        self._floor = float(self.layout.fullscale[5] * 10 ** (floor_dbfs / 10))
        self._mel_lo = float(hz_to_mel(s.fmin, htk=s.mel_htk))
        self._mel_span = float(hz_to_mel(s.fmax, htk=s.mel_htk)) - self._mel_lo
        self._htk = s.mel_htk

    def reset(self) -> None:
        self._last = (0.0, 0.0)

    def _mel(self, hz: float) -> float:
        if self._htk:
            return 2595.0 * math.log10(1.0 + hz / 700.0)
        if hz < 1000.0:
            return hz * 0.015
        return 15.0 + math.log(hz / 1000.0) * (27.0 / math.log(6.4))

    def step(self, energies, rms, onset) -> tuple:
        total = energies[5]
        if total > self._floor:
            c = energies[6] / total
            norm = (self._mel(c) - self._mel_lo) / self._mel_span
            self._last = (c, 0.0 if norm < 0.0 else 1.0 if norm > 1.0 else norm)
        return self._last


class Levels(Stage):
    """``rms`` (pass-through), ``onset`` (normalised) and ``onsetraw`` (pass-through, dB).

    ``onset`` divides the onset strength by a peak follower that jumps to every new maximum and
    decays with time constant ``peak_release`` (2 s), floored at ``min_peak`` dB so near-silence is
    not blown up: 1.0 on the strongest attack of the last seconds, proportionally less otherwise.
    """

    names = ("rms", "onset", "onsetraw")
    needs_layout = False

    def __init__(self, spec: FeatureSpec | None = None, *, peak_release: float = 2.0,
                 min_peak: float = 1.0, layout: BandLayout | None = None):
        self.peak_release, self.min_peak = peak_release, min_peak
        super().__init__(spec, layout=layout)
        self._decay = 1.0 - one_pole(peak_release, self.spec.frame_rate)

    def reset(self) -> None:
        self._peak = 0.0

    def step(self, energies, rms, onset) -> tuple:
        peak = self._peak * self._decay
        if onset > peak:
            peak = onset
        self._peak = peak
        return rms, onset / (peak if peak > self.min_peak else self.min_peak), onset
