"""The audio energy vector of the diffusion-visualiser study, made causal: ``energy`` (0..1),
its running sum ``cumulative``, and ``morph``, a 0..1 ramp per segment that advances with the
energy (issue 13, part 1).

Why: the study drives the interpolation between generated frames with the mel-scaled energy of
a harmonic/percussive split of the music (percussive weighted 0.9, harmonic 0.1) and its
cumulative sum, so the interpolation parameter moves fast where the music hits and slowly where
it sustains, instead of a linear schedule. Its split is librosa's ``hpss`` (median filters
centred in time: it needs half its kernel of future audio), run over a whole clip. Live there is
no future, so:

**Causal split, on the mel bands.** Per frame, from the extractor's 64 mel bands (power
``S = 10 ** (dB / 10)``): the harmonic estimate ``H`` is the median of each band over the last
``harmonic_frames`` frames (this one included: past only), the percussive estimate ``P`` the
median across ``percussive_bands`` neighbouring bands of this frame (within the frame: no
delay). The masks are librosa's soft masks (power 2 on magnitudes, which is ``P / (P + H)`` on
powers since a median commutes with the square root): ``Mp = P / (P + H)``, ``Mh = 1 - Mp``.
Weighting the two components' magnitudes 0.9 and 0.1 scales each band's magnitude by
``w = 0.9 Mp + 0.1 Mh``, its power by ``w ** 2``; the frame's raw energy is ``sum(w ** 2 S)``,
the mel power of the weighted signal.

What causality costs: nothing in delay for a hit (a click is percussive in the frame whose
window holds it: the time median of past frames has not seen it), but a *sustained* sound that
starts now is not in the past median either, so its first ``harmonic_frames / 2`` frames read as
percussive; the centred filter decides both at once but only ``harmonic_frames / 2`` frames
later. Measured by ``python -m tests.bench.energy_latency`` (README "Audio energy vector").

**Normalised** as the study normalises (min-max over a clip, its minimum ~0) but causally:
``energy = raw / ref``, where ``ref`` jumps to each new maximum, decays with time constant
``release_s`` (10 s) and never drops below ``floor_db`` (-60 dB) under a full-scale sine's mel
power, so silence and hiss read 0, not a full-scale pulse. It starts (and restarts after
``reset``) at ``start_db`` (-10 dB under that sine: where the loudest hits of the test music
lie, -9 to -16 dB), so the first sound of a stream does not read 1.0 until a louder one comes:
started at the floor instead, the energy's correlation with the study's over 15 s excerpts
fell from 0.73-0.94 to 0.41-0.64 (``python -m tests.bench.energy_reference``).

**cumulative** is the running sum of ``energy`` times the frame period (energy-seconds since the
stream began; monotonic): the study's curve is ``cumulative / cumulative[-1]`` over a clip.

**morph**: the clip of the study becomes a *segment* of ``segment`` beats (the tempo tracker's
``bpm`` at the segment's start; 120 BPM until it has one) or seconds, ``N`` frames. Each frame
advances ``m += (1 - m) * a / (a + mean_a * R)`` where ``a = energy + base`` (``base`` keeps it
moving in silence), ``mean_a`` its mean over ``memory_s`` and ``R`` the frames left in the segment
after this one. Under constant energy that is exactly ``k / N`` (linear interpolation); more
energy than usual moves it faster and leaves less for the rest; it reaches 1.0 on the segment's
last frame, then starts again near 0 (the moment to change keyframes). Segments follow the
tempo's length, not its phase: they are not aligned to the beat grid.

Frame by frame: ``process`` gives the same values for any split of the frames into calls, so
``vjbridge energy`` (a file) and the live engine are one code path.
"""

from __future__ import annotations

import math

import numpy as np

from bridge.audio.melbank import mel_filterbank, periodic_hann
from bridge.audio.spec import FeatureSpec
from bridge.errors import ConfigError

#: The study's weights of the percussive and harmonic components.
PERCUSSIVE_WEIGHT = 0.9
HARMONIC_WEIGHT = 0.1
#: ``segment`` units: beats of the tracked tempo, or seconds.
UNITS = ("beats", "s")
DEFAULT_SEGMENT = (4.0, "beats")
#: The tempo a segment in beats assumes until the tracker has one.
FALLBACK_BPM = 120.0


def parse_segment(text) -> tuple[float, str]:
    """``"4"`` / ``"4b"`` / ``"4 beats"`` -> (4.0, "beats"); ``"2s"`` / ``"2 s"`` -> (2.0, "s").
    A bad value raises :class:`ConfigError` naming the accepted forms."""
    if isinstance(text, tuple):
        value, unit = text
    else:
        s = str(text).strip().lower().replace(" ", "")
        for suffix, unit in (("beats", "beats"), ("beat", "beats"), ("b", "beats"),
                             ("seconds", "s"), ("sec", "s"), ("s", "s"), ("", "beats")):
            if s.endswith(suffix):
                s = s[:len(s) - len(suffix)] if suffix else s
                break
        try:
            value = float(s)
        except ValueError:
            value = math.nan
    if unit not in UNITS or not math.isfinite(value) or not 0 < value <= (64 if unit == "beats"
                                                                         else 600):
        raise ConfigError(f"--morph-segment {text!r}: give beats (e.g. 4 or 4b, 0 < beats <= 64) "
                          "or seconds (e.g. 2s, 0 < s <= 600)")
    return float(value), unit


def full_scale_mel_power(spec: FeatureSpec, hz: float = 1000.0) -> float:
    """The summed mel power (the extractor's scale) of a full-scale sine at ``hz``."""
    t = np.arange(spec.n_fft) / spec.sample_rate
    power = np.abs(np.fft.rfft(periodic_hann(spec.n_fft) * np.sin(2 * np.pi * hz * t))) ** 2
    bank = mel_filterbank(sample_rate=spec.sample_rate, n_fft=spec.n_fft, n_mels=spec.n_mels,
                          fmin=spec.fmin, fmax=spec.fmax, htk=spec.mel_htk, norm=spec.mel_norm)
    return float((bank.astype(np.float64) @ power).sum())


class EnergyVector:
    """``process(frames, bpm=None) -> (n, 3)``: energy, morph, cumulative; ``reset()``.

    ``frames``: extractor frames ``(n, n_mels + 2)`` (mel dB first); ``bpm``: the tempo per frame
    (``None`` or 0: no tempo yet), read only when a segment in beats starts."""

    names = ("energy", "morph", "cumulative")

    def __init__(self, spec: FeatureSpec | None = None, *, segment=DEFAULT_SEGMENT,
                 harmonic_s: float = 0.3, percussive_bands: int = 9, release_s: float = 10.0,
                 floor_db: float = -60.0, start_db: float = -10.0, base: float = 0.05,
                 memory_s: float = 8.0):
        self.spec = s = spec if spec is not None else FeatureSpec()
        self.segment = parse_segment(segment)
        fr = s.frame_rate
        self.frame_s = 1.0 / fr
        k = max(3, int(round(harmonic_s * fr)))
        self.harmonic_frames = k | 1  # odd: the median is one of the values, as librosa's
        self.percussive_bands = max(1, int(percussive_bands)) | 1
        n = self._n = s.n_mels
        half = self.percussive_bands // 2
        # each band's neighbours within the frame, the edges repeated (scipy's 'nearest')
        self._idx = np.clip(np.arange(n)[:, None] + np.arange(-half, half + 1)[None, :], 0, n - 1)
        self._decay = math.exp(-self.frame_s / release_s) if release_s > 0 else 0.0
        full = full_scale_mel_power(s)
        self._min_ref = full * 10.0 ** (floor_db / 10.0)
        self._start_ref = max(self._min_ref, full * 10.0 ** (start_db / 10.0))
        self._base = float(base)
        self._mem = 1.0 - math.exp(-self.frame_s / memory_s)
        self._ln10_tenth = np.full(n, math.log(10.0) / 10.0)
        self._hist = np.empty((n, self.harmonic_frames))  # band-major: partition along rows is
        # ~3 µs cheaper than along columns
        self._mid_t = self.harmonic_frames // 2
        self._mid_f = half
        self._power = np.empty(n)
        self.reset()

    def reset(self) -> None:
        """Forget everything: a new stream (the first frame fills the time history)."""
        self._pos = -1  # -1: the history is empty
        self._ref = self._start_ref
        self._cum = 0.0
        self._mean = -1.0  # < 0: not yet seen a frame
        self._m = 0.0
        self._left = 0  # frames left in the current segment (0: the next frame starts one)

    def segment_frames(self, bpm: float | None) -> int:
        value, unit = self.segment
        if unit == "beats":
            seconds = value * 60.0 / (bpm if bpm and bpm > 0 else FALLBACK_BPM)
        else:
            seconds = value
        return max(2, int(round(seconds / self.frame_s)))

    def raw(self, db: np.ndarray) -> float:
        """One frame's weighted mel power (updates the time history)."""
        power = self._power
        np.multiply(db, self._ln10_tenth, power)
        np.exp(power, power)
        hist = self._hist
        if self._pos < 0:
            hist[:] = power[:, None]  # as if the sound had always been there: no burst at start
            self._pos = 0
        else:
            self._pos = (self._pos + 1) % self.harmonic_frames
            hist[:, self._pos] = power
        h = np.partition(hist, self._mid_t, axis=1)[:, self._mid_t]
        p = np.partition(power[self._idx], self._mid_f, axis=1)[:, self._mid_f]
        total = p + h
        total[total <= 0.0] = 1.0  # both medians 0 (digital silence): power is 0 there anyway
        w = HARMONIC_WEIGHT + (PERCUSSIVE_WEIGHT - HARMONIC_WEIGHT) * (p / total)
        w *= w
        return float(np.dot(w, power))

    def step(self, db: np.ndarray, bpm: float | None = None) -> tuple[float, float, float]:
        raw = self.raw(db)
        ref = self._ref * self._decay
        if raw > ref:
            ref = raw
        if ref < self._min_ref:
            ref = self._min_ref
        self._ref = ref
        energy = raw / ref
        if energy > 1.0:
            energy = 1.0
        self._cum += energy * self.frame_s
        a = energy + self._base
        mean = a if self._mean < 0 else self._mean + self._mem * (a - self._mean)
        self._mean = mean
        if self._left <= 0:  # a new segment
            self._left = self.segment_frames(bpm)
            self._m = 0.0
        self._left -= 1
        m = self._m
        m = 1.0 if self._left == 0 else m + (1.0 - m) * a / (a + mean * self._left)
        self._m = m
        return energy, m, self._cum

    def process(self, frames: np.ndarray, bpm=None) -> np.ndarray:
        frames = np.asarray(frames, dtype=np.float64)
        n = frames.shape[0]
        out = np.empty((n, 3))
        nm = self._n
        for i in range(n):
            out[i] = self.step(frames[i, :nm], None if bpm is None else float(bpm[i]))
        return out


__all__ = ["DEFAULT_SEGMENT", "EnergyVector", "HARMONIC_WEIGHT", "PERCUSSIVE_WEIGHT",
           "parse_segment"]
