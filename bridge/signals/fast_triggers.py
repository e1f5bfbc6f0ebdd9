"""`FastTriggers`: ``onset``, ``kick`` and ``snare`` detected on a 5 ms hop of the device's own samples.

Why a second detector: the 60 Hz triggers (:mod:`bridge.signals.triggers`) see a hit only once it
has passed the resampler and completed a 60 Hz frame: 30-70 ms after the sound on a PulseAudio
device (issue 9, tests/bench/latency). This one runs on the mono device-rate samples *before* the
resampler (so the resampler adds nothing) with a short window (~21 ms) and a fine hop (~5 ms), and
reports every event with the stream sample at which it was decided, so the engine can send it at
once, in its own small message, instead of at the next 60 Hz tick.

Rate-agnostic: the hop and window are given in ms; at 48 kHz hop 240 and a 1024-point FFT, at
44.1 kHz hop 220 / 1024, at 22,050 Hz hop 110 / 512 (the window is the power of two nearest to
``window_ms``). Per hop, one Hann-windowed FFT of the newest ``n_fft`` samples gives band powers:

- ``kick`` (40-160 Hz) and ``snare`` (1-5 kHz): the FFT bins in the band, summed over the last
  ``band_span_ms`` (20 ms: a 21 ms window alone makes a hi-hat's short burst in 1-5 kHz look like
  a snare; on the demo groove snare went from 8/21 hits and 33 false to 21/21 and 3), then *the same
  rule as the 60 Hz triggers* (:class:`bridge.signals.triggers.BandTrigger`: the rise in dB above the
  band's minimum over one window, an adaptive threshold mean + 2.5 x deviation of at least 6 dB,
  a -60 dBFS floor, a 100 ms refractory time and the peak mask), at the fine hop's frame rate.
- ``onset``: broadband spectral flux: 24 log-spaced bands (40 Hz - 16 kHz, or the Nyquist rate),
  the mean over bands of the rise in dB above each band's *mean* over the previous window (the
  minimum, as the band triggers use, made noise alone fire: 30 false on the 60 clicks, 1 now),
  against the same kind of adaptive threshold (at least ``onset_min_rise``, 6 dB) and a 50 ms
  refractory time.

The detector's own lag, device samples from the attack's first sample to the newest sample of the
hop that fired, at 48 kHz in 10 ms blocks (``python -m tests.bench.triggers.compare``): onset 239
(5 ms, one hop) on clicks, kicks and snares; kick and snare 479-719 on clicks and synthesized
drums, 800 / 781 median on the demo groove (10-17 ms), against 1,470-2,950 (31-61 ms) for the
60 Hz detectors fed at 22,050 Hz directly (before the resampler's own hold-back). Full-scale reference: a sine at amplitude 1 in the band's
centre has band power 1, so ``floor_dbfs`` means what it does in the 60 Hz triggers.

One stateful stage: ``process(block) -> [(name, sample), ...]`` (``sample``: the index, counted
from the first sample after ``reset()``, of the newest sample of the hop that fired), ``reset()``.
"""

from __future__ import annotations

import math

import numpy as np

from bridge.signals.triggers import BandTrigger

#: The bands of the triggers (Hz), as the 60 Hz triggers' defaults (bridge.signals.bands).
DEFAULT_BANDS = {"kick": (40.0, 160.0), "snare": (1000.0, 5000.0)}


class _FluxThreshold:
    """The onset decision: flux above mean + sensitivity x deviation (at least ``min_rise``),
    a refractory time; the statistics learn after deciding, clipped as BandTrigger's are."""

    def __init__(self, *, frame_rate: float, sensitivity: float, min_rise: float,
                 adapt: float, refractory: float):
        self.sensitivity = sensitivity
        self.min_rise = min_rise
        self.clip = 2.0 * min_rise
        self.alpha = 1.0 - math.exp(-1.0 / (adapt * frame_rate))
        self.refractory_frames = refractory * frame_rate
        self.reset()

    def reset(self) -> None:
        self.mean = 0.0
        self.dev = 0.0
        self.since = math.inf

    def step(self, flux: float, loud: bool) -> bool:
        threshold = max(self.min_rise, self.mean + self.sensitivity * self.dev)
        self.since += 1
        fire = flux > threshold and loud and self.since >= self.refractory_frames
        if fire:
            self.since = 0
        f = flux if flux < self.clip else self.clip
        self.mean += self.alpha * (f - self.mean)
        self.dev += self.alpha * (abs(f - self.mean) - self.dev)
        return fire


class FastTriggers:
    """``process(mono) -> [(name, sample), ...]`` at ``rate`` Hz; ``reset()``; ``names``."""

    names = ("onset", "kick", "snare")

    def __init__(self, rate: float, *, hop_ms: float = 5.0, window_ms: float = 21.0,
                 bands: dict | None = None, sensitivity: float = 2.5, min_rise: float = 6.0,
                 adapt: float = 1.0, refractory: float = 0.1, mask_release: float = 10.0,
                 mask_margin: float = 3.0, floor_dbfs: float = -60.0,
                 onset_min_rise: float = 6.0, onset_refractory: float = 0.05,
                 onset_bands: int = 24, band_span_ms: float = 20.0):
        self.rate = float(rate)
        self.hop = max(1, round(hop_ms * self.rate / 1000.0))
        self.n_fft = 2 ** max(4, round(math.log2(window_ms * self.rate / 1000.0)))
        self.frame_rate = self.rate / self.hop
        self.lag = max(1, round(self.n_fft / self.hop))  # one window: the time a hit takes to enter
        self.floor_dbfs = floor_dbfs
        self.span = max(1, round(band_span_ms * self.rate / 1000.0 / self.hop))
        self.window = np.hanning(self.n_fft + 2)[1:-1]  # no zero end points: the newest sample counts
        self.freqs = np.fft.rfftfreq(self.n_fft, 1.0 / self.rate)
        # a full-scale sine's peak bin power through this window: the 0 dBFS reference
        self._fullscale = (self.window.sum() / 2.0) ** 2
        self.options = dict(sensitivity=sensitivity, min_rise=min_rise, adapt=adapt,
                            refractory=refractory, mask_release=mask_release,
                            mask_margin=mask_margin)
        self._bands: dict[str, BandTrigger] = {}
        self._masks: dict[str, np.ndarray] = {}
        for name, (lo, hi) in (bands or DEFAULT_BANDS).items():
            self.set_band(name, lo, hi)
        # onset: log-spaced bands as a (bins x bands) 0/1 matrix; a band narrower than a bin
        # takes the bin nearest its centre, duplicates are dropped
        top = min(16000.0, self.rate / 2.0)
        edges = np.geomspace(40.0, top, onset_bands + 1)
        cols = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            m = (self.freqs >= lo) & (self.freqs < hi)
            if not m.any():
                m = np.zeros_like(m)
                m[int(np.argmin(np.abs(self.freqs - math.sqrt(lo * hi))))] = True
            if not any((m == c).all() for c in cols):
                cols.append(m)
        self._onset_matrix = np.array(cols, dtype=np.float64).T
        self._onset_floor = self._fullscale * 10 ** (floor_dbfs / 10.0)
        self._onset = _FluxThreshold(frame_rate=self.frame_rate, sensitivity=sensitivity,
                                     min_rise=onset_min_rise, adapt=adapt,
                                     refractory=onset_refractory)
        self.reset()

    # ---- live controls (vjbridge run --control: threshold/kick, band/snare, ...) ----------------
    def set_band(self, name: str, lo: float, hi: float) -> None:
        """Listen to ``lo``-``hi`` Hz for trigger ``name`` (at least the bin nearest the band's
        centre); its history restarts."""
        mask = (self.freqs >= lo) & (self.freqs < hi)
        if not mask.any():
            mask[int(np.argmin(np.abs(self.freqs - math.sqrt(max(lo, 1.0) * hi))))] = True
        self._masks[name] = mask
        self._band_matrix = np.array(list(self._masks.values()), dtype=np.float64).T
        old = self._bands.get(name)
        floor = self._fullscale * 10 ** (self.floor_dbfs / 10.0)
        band = BandTrigger(0, floor, frame_rate=self.frame_rate, lag=self.lag, **self.options)
        if old is not None:
            band.set_min_rise(old.min_rise)
        self._bands[name] = band
        if hasattr(self, "_recent"):
            self._recent[name] = [0.0] * self.span

    def set_min_rise(self, name: str, db: float) -> None:
        """Trigger ``name``'s smallest rise (dB) that fires, as the 60 Hz triggers' control."""
        self._bands[name].set_min_rise(db)

    # ---- the stage ------------------------------------------------------------------------------
    def reset(self) -> None:
        self._buf = np.zeros(self.n_fft)  # the newest n_fft samples (silence before the stream)
        self._pending = 0  # samples since the last hop
        self.samples = 0  # samples seen since reset()
        self._history = None  # onset band dB of the previous `lag` hops (the first hop's at start)
        self._onset.reset()
        self._recent = {name: [0.0] * self.span for name in self._masks}
        for band in self._bands.values():
            band.reset()

    def process(self, mono) -> list[tuple[str, int]]:
        x = np.asarray(mono, dtype=np.float64).reshape(-1)
        n = x.size
        if n == 0:
            return []
        hop, n_fft, lag = self.hop, self.n_fft, self.lag
        first = hop - self._pending  # samples of x until the first hop completes
        ends = np.arange(first, n + 1, hop)  # hop boundaries inside x (exclusive end index)
        self._pending = (self._pending + n) % hop
        joined = np.concatenate((self._buf, x))
        self._buf = joined[-n_fft:]
        base = self.samples
        self.samples += n
        if ends.size == 0:
            return []
        # the windows ending at each boundary: joined[e : e + n_fft] (one FFT call for all)
        frames = np.array([joined[e:e + n_fft] for e in ends.tolist()]) * self.window
        spec = np.fft.rfft(frames, axis=1)
        power = spec.real ** 2 + spec.imag ** 2  # (hops, bins)
        onset_power = power @ self._onset_matrix  # (hops, onset bands)
        band_powers = (power @ self._band_matrix).T.tolist()  # per trigger, per hop
        loud = (onset_power.sum(axis=1) > self._onset_floor).tolist()
        db = 10.0 * np.log10(np.maximum(onset_power, 1e-30))
        if self._history is None:
            self._history = np.repeat(db[:1], lag, axis=0)
        # rise of each band above its mean over the previous `lag` hops, for every hop at once
        rows = np.concatenate((self._history, db))
        c = np.cumsum(rows, axis=0)
        c = np.concatenate((np.zeros((1, c.shape[1])), c))
        ref = (c[lag:lag + db.shape[0]] - c[:db.shape[0]]) / lag
        flux = np.maximum(db - ref, 0.0).mean(axis=1).tolist()
        self._history = rows[-lag:]
        events = []
        onset, bands, recent = self._onset, list(self._bands.items()), self._recent
        for k, end in enumerate(ends.tolist()):
            at = base + end - 1  # the newest sample of this hop
            if onset.step(flux[k], loud[k]):
                events.append(("onset", at))
            for j, (name, band) in enumerate(bands):
                r = recent[name]
                r.pop(0)
                r.append(band_powers[j][k])
                if band.step(sum(r)):
                    events.append((name, at))
        return events
