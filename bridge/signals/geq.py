"""WLED's sound-sync signals from the 64 mel bands: ``geq`` (16 GEQ channels), ``majorpeak`` (Hz)
and ``magnitude`` (the strongest peak's level).

Why from the mel bands and not a second FFT: the extractor already pays for one FFT per frame and
the stages only see its mel dB columns; summing mel bands into WLED's 16 channels is one 64 x 16
product, and the strongest peak is an argmax over 64 values plus a two-band interpolation.

**GEQ channels.** WLED's audioreactive usermod (22050 Hz, 512-point FFT, 43 Hz bins) fills its 16
channels from fixed FFT bin ranges; their edges are :data:`WLED_GEQ_HZ` (43-86, 86-129, 129-216,
216-301, 301-430, 430-560, 560-818, 818-1120, 1120-1421, 1421-1895, 1895-2412, 2412-3015,
3015-3704, 3704-4479, 4479-7106, 7106-9259 Hz; nothing above 9259 Hz). Here a mel band belongs to
the channel its centre frequency falls in (as :class:`~bridge.signals.bands.BandLayout` does for
low/mid/high). What differs, with the default spec (64 slaney mel bands 0-11025 Hz, 51 Hz apart
below 1 kHz): the lowest channels hold one or two mel bands whose triangles are ~100 Hz wide, so
channel 0 (one band centred at 51 Hz) also hears 0-43 and 86-102 Hz, and neighbouring low channels
overlap where WLED's bins do not; a mel band centred outside 43-9259 Hz (there is none below 43
Hz; the three above 9259 Hz) is left out as WLED leaves those bins out.

Each channel's power is the sum of its mel bands' power, divided by what the channel reads for a
full-scale sine in its middle (measured through the same filterbank), so ``a = sqrt(...)`` is an
amplitude relative to full scale whatever the channel's width. The level sent is
``min(1, sqrt(max(a - floor, 0) / ref))``: the square root is WLED's own default GEQ scaling (its
"square root" FFT scaling mode); ``floor`` (``floor_dbfs``, -60 dBFS) is a gate, so digital
silence and hiss read 0; ``ref`` is one auto-gain reference shared by all channels (the
spectrum's shape is kept): it jumps to the loudest channel's amplitude, decays with time constant
``release_s`` (4 s) and never drops below ``min_ref_dbfs`` (-40 dBFS), so a quiet room is not
amplified to full scale.

**Major peak.** The strongest mel band after dividing each band's power by what a full-scale sine
at its centre reads there (``r_k``, a squared amplitude: a tone-equivalent level, so narrow low
bands and wide high bands compare as a peak in an FFT does), and its stronger neighbour ``j``. A
tone between the two centres puts ``r_k + r_j = A^2`` into them, split linearly by where it lies
(the triangles are linear between centres), so ``majorpeak = c_k + (c_j - c_k) * r_j / (r_k +
r_j)`` and ``magnitude = min(1, sqrt(max(A - floor, 0) / ref))`` (the GEQ's scale, gate and
reference). For a pure tone
this reads the frequency within a few Hz (tests); for music it is the loudest narrow-band peak,
like WLED's strongest FFT bin but with the mel bands' resolution (51 Hz below 1 kHz, ~6 % above).
Below ``floor_dbfs`` (silence) ``majorpeak`` holds its last value (0 before any sound) and
``magnitude`` is 0. WLED sends 1 Hz and ~0 in silence; its receivers clamp the frequency to
1..11025 Hz.
"""

from __future__ import annotations

import math

import numpy as np

from bridge.audio.melbank import mel_filterbank, mel_frequencies, periodic_hann
from bridge.audio.spec import FeatureSpec

#: WLED's 16 GEQ channels (audioreactive usermod, 22050 Hz, no band-pass filter): channel ``i``
#: covers ``WLED_GEQ_HZ[i]`` to ``WLED_GEQ_HZ[i + 1]`` Hz.
WLED_GEQ_HZ = (43.0, 86.0, 129.0, 216.0, 301.0, 430.0, 560.0, 818.0, 1120.0, 1421.0, 1895.0,
               2412.0, 3015.0, 3704.0, 4479.0, 7106.0, 9259.0)
N_GEQ = len(WLED_GEQ_HZ) - 1


class GeqLayout:
    """Which mel bands make up each GEQ channel, and the full-scale references.

    ``matrix`` (n_mels, 16): 1 where a mel band's centre lies in a channel. ``channel_fs``: what a
    channel reads for a full-scale sine at the geometric middle of its mel centres. ``tone_fs``
    (n_mels): what each mel band reads for a full-scale sine at its own centre.
    """

    def __init__(self, spec: FeatureSpec | None = None):
        self.spec = s = spec if spec is not None else FeatureSpec()
        self.centres_hz = mel_frequencies(s.n_mels + 2, fmin=s.fmin, fmax=s.fmax,
                                          htk=s.mel_htk)[1:-1]
        c = self.centres_hz
        m = np.zeros((s.n_mels, N_GEQ))
        for i in range(N_GEQ):
            lo, hi = WLED_GEQ_HZ[i], WLED_GEQ_HZ[i + 1]
            inside = (c >= lo) & (c < hi)
            if not inside.any():  # a coarse spec: the band nearest the channel's middle
                inside[int(np.argmin(np.abs(c - math.sqrt(lo * hi))))] = True
            m[:, i] = inside
        self.matrix = m
        bank = mel_filterbank(sample_rate=s.sample_rate, n_fft=s.n_fft, n_mels=s.n_mels,
                              fmin=s.fmin, fmax=s.fmax, htk=s.mel_htk,
                              norm=s.mel_norm).astype(np.float64)
        self.channel_fs = np.array([float(bank[m[:, i] > 0].sum(axis=0) @ self._sine_power(
            math.sqrt(lo * hi))) for i, (lo, hi) in enumerate(map(self.channel_hz, range(N_GEQ)))])
        self.tone_fs = np.array([float(bank[k] @ self._sine_power(c[k]))
                                 for k in range(s.n_mels)])

    def _sine_power(self, hz: float) -> np.ndarray:
        s = self.spec
        t = np.arange(s.n_fft) / s.sample_rate
        return np.abs(np.fft.rfft(periodic_hann(s.n_fft) * np.sin(2 * np.pi * hz * t))) ** 2

    def channel_hz(self, i: int) -> tuple[float, float]:
        """Lowest and highest mel centre (Hz) in channel ``i``."""
        c = self.centres_hz[self.matrix[:, i] > 0]
        return float(c[0]), float(c[-1])


class GeqAnalysis:
    """``geq`` (n, 16), ``majorpeak`` and ``magnitude`` (n,) for extractor frames, with the shared
    auto-gain state. Frame by frame (the live engine feeds one)."""

    def __init__(self, spec: FeatureSpec | None = None, *, release_s: float = 4.0,
                 floor_dbfs: float = -60.0, min_ref_dbfs: float = -40.0,
                 layout: GeqLayout | None = None):
        self.spec = spec if spec is not None else FeatureSpec()
        self.layout = layout if layout is not None else GeqLayout(self.spec)
        self.release_s, self.floor_dbfs, self.min_ref_dbfs = release_s, floor_dbfs, min_ref_dbfs
        self._n = self.spec.n_mels
        # channel powers relative to full scale in one product: matrix / channel_fs
        self._w = self.layout.matrix / self.layout.channel_fs[None, :]
        self._inv_tone = 1.0 / self.layout.tone_fs
        self._centres = self.layout.centres_hz.tolist()
        self._decay = math.exp(-1.0 / (release_s * self.spec.frame_rate)) if release_s > 0 else 0.0
        self._floor = 10.0 ** (floor_dbfs / 20.0)  # an amplitude re full scale
        self._min_ref = max(10.0 ** (min_ref_dbfs / 20.0), 2.0 * self._floor)
        self._floor_sq = self._floor ** 2
        self._last = self._n - 1
        self._power = np.empty(self._n)  # work buffers of one frame
        self._tone = np.empty(self._n)
        self._energy = np.empty(N_GEQ)
        self._ln10_tenth = np.full(self._n, math.log(10.0) / 10.0)  # array operands: a Python
        self._floors = np.full(N_GEQ, self._floor)  # scalar costs ~0.15 µs more per call
        self._zeros = np.zeros(N_GEQ)
        self._ones = np.ones(N_GEQ)
        self.reset()

    def reset(self) -> None:
        self._ref = self._min_ref
        self._peak_hz = 0.0

    def process(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(geq (n, 16), peaks (n, 2) = majorpeak, magnitude)``, frame by frame. One frame (the
        live case) goes through preallocated buffers: ~10 numpy calls, their count being the
        cost (see the module docstring for the figure)."""
        n = frames.shape[0]
        geq = np.empty((n, N_GEQ))
        peaks = np.empty((n, 2))
        for i in range(n):
            self._step(frames[i, :self._n], geq[i], peaks[i])
        return geq, peaks

    def _step(self, db: np.ndarray, geq: np.ndarray, peak: np.ndarray) -> None:
        power, tone, energy = self._power, self._tone, self._energy
        np.multiply(db, self._ln10_tenth, power)  # 10 ** (dB / 10) as exp(): ~0.6 µs cheaper
        np.exp(power, power)
        np.dot(power, self._w, energy)  # channel powers re full scale
        np.sqrt(energy, energy)  # amplitudes
        ref = self._ref * self._decay
        loudest = max(energy.tolist())  # cheaper than ndarray.max() on 16 values
        if loudest > ref:
            ref = loudest
        if ref < self._min_ref:
            ref = self._min_ref
        self._ref = ref
        np.subtract(energy, self._floors, geq)  # the gate: at or below the floor reads 0
        np.maximum(geq, self._zeros, out=geq)
        np.multiply(geq, 1.0 / ref, geq)
        np.sqrt(geq, geq)
        np.minimum(geq, self._ones, out=geq)
        np.multiply(power, self._inv_tone, tone)
        k = int(tone.argmax())
        rk = float(tone[k])
        if rk > self._floor_sq:
            left = float(tone[k - 1]) if k > 0 else -1.0
            right = float(tone[k + 1]) if k < self._last else -1.0
            j, rj = (k - 1, left) if left > right else (k + 1, right)
            total = rk + rj
            c = self._centres
            self._peak_hz = c[k] + (c[j] - c[k]) * rj / total
            mag = math.sqrt(max(math.sqrt(total) - self._floor, 0.0) / ref)
            peak[0] = self._peak_hz
            peak[1] = 1.0 if mag > 1.0 else mag
        else:
            peak[0] = self._peak_hz
            peak[1] = 0.0
