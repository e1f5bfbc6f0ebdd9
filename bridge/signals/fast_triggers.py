"""`FastTriggers`: ``onset``, ``kick`` and ``snare`` decided on a 5 ms hop of the device's own samples.

Why a second detector: the 60 Hz triggers (:mod:`bridge.signals.triggers`) see a hit only once it
has passed the resampler and completed a 60 Hz frame (16.7 ms hop, 93 ms window): sound -> kick
packet ~38 ms on a PulseAudio null sink (issue 9). This one runs on the mono device-rate samples
*before* the resampler, on a short window (``window_ms``, 21 ms: 1024 samples at 48 kHz) every
``hop_ms`` (5 ms: one hop per default 5 ms device block), and reports each event with the stream
sample at which it was decided, so the engine sends it the moment the block holding it arrives.

The window is asymmetric (a Hann rise over all but the newest ``tail_ms``, a Hann fall over those):
a symmetric Hann gives the newest 5 ms a weight of 0-15 %, so an attack would show only one or two
hops after it arrived; with a 2 ms fall it counts at once. Per hop, one FFT of the newest
``n_fft`` samples and one matrix product give the band powers:

- ``onset``: broadband spectral flux. 24 log-spaced bands (40 Hz to 16 kHz or the Nyquist rate),
  the mean over bands of the rise in dB above each band's *maximum* over the previous
  ``onset_history_ms`` (21 ms), against an adaptive threshold ``mean + sensitivity * deviation``
  of recent flux (at least ``onset_min_rise``, 3 dB), a power floor ``floor_dbfs`` and an
  ``onset_refractory`` time (50 ms). Why the maximum: a short window sees a sound's own
  periodicity (a 55 Hz saw bass puts one or two of its steps in 21 ms, 3-8 dB apart in every high
  band), which a rise above the mean reads as an attack every few periods (47 false onsets in 30 s
  of the demo groove; a rise above the minimum, as the band triggers use, lets noise alone fire);
  above the maximum it reads none (0 false, tests/bench/fast_triggers.py).
- ``kick`` (40-160 Hz) and ``snare`` (1-5 kHz): the FFT bins in the band, their power summed over
  the last ``band_span_ms`` (40 ms: a 21 ms window alone makes a hi-hat's short burst in 1-5 kHz
  read as a snare, 14 false snares in 30 s of the demo groove, 2 with 40 ms; with 20 ms the kick
  fires 6 ms sooner there but twice as often as the 60 Hz kick on one of the test tracks), then
  *the 60 Hz triggers' rule* (:class:`bridge.signals.triggers.BandTrigger`: rise in dB above the band's
  minimum over the time a hit takes to enter the summed windows, adaptive threshold of at least
  ``min_rise`` 6 dB, the -60 dBFS floor, 100 ms refractory time, the peak mask) at the hop's rate.

Block sizes do not matter: hops sit on a fixed grid of stream samples and every hop is computed
with the same calls, so any split of the same samples gives the same events
(tests/signals/test_fast_triggers.py). Its own lag is measured in samples by
``python -m tests.bench.fast_triggers`` (README, "Measured speed").

One stateful stage: ``process(block) -> [(name, sample), ...]`` (``sample``: the index, counted
from the first sample after ``reset()``, of the newest sample of the hop that fired), ``reset()``.
"""

from __future__ import annotations

import math

import numpy as np

from bridge.signals.bands import KICK_BAND_HZ, SNARE_BAND_HZ
from bridge.signals.triggers import BandTrigger

#: What each trigger listens to (Hz): the 60 Hz triggers' bands.
BANDS = {"kick": KICK_BAND_HZ, "snare": SNARE_BAND_HZ}


def low_latency_window(n: int, tail: int) -> np.ndarray:
    """A Hann rise over ``n - tail`` samples then a Hann fall over ``tail`` (the newest)."""
    tail = min(max(1, tail), n // 2)
    rise = np.hanning(2 * (n - tail) + 1)[:n - tail]
    fall = np.hanning(2 * tail + 1)[tail + 1:]
    return np.concatenate((rise, [1.0], fall))[:n]


class _Flux:
    """The onset decision: flux above ``mean + sensitivity * deviation`` of recent flux (at least
    ``min_rise``), loud enough, after a refractory time; the statistics learn after deciding,
    clipped at twice ``min_rise`` as :class:`BandTrigger`'s are."""

    def __init__(self, *, frame_rate: float, sensitivity: float, min_rise: float, adapt: float,
                 refractory: float):
        self.sensitivity, self.min_rise, self.clip = sensitivity, min_rise, 2.0 * min_rise
        self.alpha = 1.0 - math.exp(-1.0 / (adapt * frame_rate))
        self.refractory_hops = refractory * frame_rate
        self.reset()

    def reset(self) -> None:
        self.mean = self.dev = 0.0
        self.since = math.inf

    def step(self, flux: float, loud: bool) -> bool:
        threshold = self.mean + self.sensitivity * self.dev
        self.since += 1
        fire = flux > max(threshold, self.min_rise) and loud and self.since >= self.refractory_hops
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
                 tail_ms: float = 2.0, sensitivity: float = 2.5, min_rise: float = 6.0,
                 adapt: float = 1.0, refractory: float = 0.1, mask_release: float = 10.0,
                 mask_margin: float = 3.0, floor_dbfs: float = -60.0,
                 onset_min_rise: float = 3.0, onset_refractory: float = 0.05,
                 onset_bands: int = 24, onset_fmin: float = 40.0,
                 band_span_ms: float = 40.0,
                 onset_history_ms: float = 21.0):
        self.rate = float(rate)
        self.hop = max(1, round(hop_ms * self.rate / 1000.0))
        self.n_fft = n = 2 ** max(5, round(math.log2(window_ms * self.rate / 1000.0)))
        self.frame_rate = self.rate / self.hop
        self.lag = max(1, round(n / self.hop))  # hops one window spans: a hit's time to enter
        self.span = max(1, round(band_span_ms * self.frame_rate / 1000.0))  # hops a band sums
        self.onset_lag = max(1, round(onset_history_ms * self.frame_rate / 1000.0))
        self.floor_dbfs = floor_dbfs
        self.window = low_latency_window(n, round(tail_ms * self.rate / 1000.0))
        self.freqs = np.fft.rfftfreq(n, 1.0 / self.rate)
        self.options = dict(frame_rate=self.frame_rate, sensitivity=sensitivity,
                            min_rise=min_rise, adapt=adapt, refractory=refractory,
                            mask_release=mask_release, mask_margin=mask_margin)
        # onset: log-spaced bands, each at least the bin nearest its centre, duplicates dropped
        edges = np.geomspace(onset_fmin, min(16000.0, self.rate / 2.0), onset_bands + 1)
        columns: list[np.ndarray] = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            m = self._mask(lo, hi)
            if not any((m == c).all() for c in columns):
                columns.append(m)
        self._n_onset = len(columns)
        self._columns = columns + [self._mask(*BANDS[name]) for name in ("kick", "snare")]
        self._onset = _Flux(frame_rate=self.frame_rate, sensitivity=sensitivity,
                            min_rise=onset_min_rise, adapt=adapt, refractory=onset_refractory)
        self._onset_floor = self._sine_power(np.sum(columns, axis=0) > 0, 1000.0) \
            * 10 ** (floor_dbfs / 10.0)
        self._bands = [self._band(j) for j in (0, 1)]
        self._build()
        self.reset()

    def _mask(self, lo: float, hi: float) -> np.ndarray:
        m = (self.freqs >= lo) & (self.freqs < hi)
        if not m.any():
            m[int(np.argmin(np.abs(self.freqs - math.sqrt(max(lo, 1.0) * hi))))] = True
        return m

    def _sine_power(self, mask: np.ndarray, freq: float) -> float:
        """What bins ``mask`` read for a full-scale sine at ``freq``: the 0 dBFS reference."""
        t = np.arange(self.n_fft) / self.rate
        spec = np.fft.rfft(self.window * np.sin(2 * np.pi * freq * t))
        return float((np.abs(spec) ** 2)[mask].sum())

    def _band(self, j: int) -> BandTrigger:
        mask = self._columns[self._n_onset + j]
        f = self.freqs[mask]
        # a band's floor: the power of a full-scale sine at its centre through the summed hops
        full = self._sine_power(mask, math.sqrt(f[0] * f[-1]) if f[0] > 0 else f[-1]) * self.span
        # the rise is measured over the time a hit takes to enter all `span` summed windows
        return BandTrigger(0, full * 10 ** (self.floor_dbfs / 10.0), lag=self.lag + self.span - 1,
                           **self.options)

    def _build(self) -> None:
        """The (2 x bins, bands) matrix: the interleaved real/imag parts of one FFT, squared, in
        one product give every band's power (re^2 + im^2 summed over its bins)."""
        m = np.array(self._columns, dtype=np.float64).T
        self._matrix = np.repeat(m, 2, axis=0)

    # ---- live controls (vjbridge run --control: threshold/kick, band/snare) -----------------------
    def set_min_rise(self, name: str, db: float) -> None:
        """Trigger ``name``'s (kick, snare) smallest rise in dB that fires (default 6)."""
        self._bands[("kick", "snare").index(name)].set_min_rise(db)

    def set_band(self, name: str, lo_hz: float, hi_hz: float) -> None:
        """Listen to ``lo_hz``-``hi_hz`` for ``name`` (at least the bin nearest its centre); the
        trigger's history is forgotten (its dB of the old band would read as a rise or a dip)."""
        j = ("kick", "snare").index(name)
        self._columns[self._n_onset + j] = self._mask(float(lo_hz), float(hi_hz))
        rise = self._bands[j].min_rise
        self._bands[j] = self._band(j)
        self._bands[j].set_min_rise(rise)
        self._build()
        self._recent[j] = [0.0] * self.span

    # ---- the stage ----------------------------------------------------------------------------
    def reset(self) -> None:
        self._buf = np.zeros(self.n_fft)  # the newest n_fft samples (silence before the stream)
        self.samples = 0  # samples seen since reset()
        self._hist = None  # onset bands' dB of the previous `onset_lag` hops (a ring), its position
        self._at = 0
        self._onset.reset()
        self._recent = [[0.0] * self.span, [0.0] * self.span]  # band powers of the last hops
        # (the first ``n_fft`` samples decide nothing: the window would hold the silence before
        # the stream, and a sound that was already playing would read as an attack)
        for band in self._bands:
            band.reset()

    def process(self, mono) -> list[tuple[str, int]]:
        x = mono  # the engine's mono block as it is; anything else converted
        if type(x) is not np.ndarray or x.ndim != 1 or x.dtype != np.float64:
            x = np.asarray(mono, dtype=np.float64).reshape(-1)
        n, hop, n_fft = x.size, self.hop, self.n_fft
        base = self.samples
        self.samples += n
        first = hop - base % hop  # samples of x until the first hop ends
        if first > n:
            self._buf = np.concatenate((self._buf[n:], x)) if n < n_fft else x[-n_fft:].copy()
            return []
        joined = np.concatenate((self._buf, x))
        self._buf = joined[-n_fft:]
        events = []
        for end in range(first + n_fft, n + n_fft + 1, hop):  # hop ends, as indices of joined
            if base + end - n_fft < n_fft:  # the window still holds the silence before the stream
                continue
            fired = self._hop(joined[end - n_fft:end])
            if fired:
                at = base + end - n_fft - 1  # the hop's newest sample in stream samples
                events.extend((name, at) for name in fired)
        return events

    def _hop(self, frame: np.ndarray) -> tuple[str, ...]:
        v = np.fft.rfft(frame * self.window).view(np.float64)
        power = (v * v) @ self._matrix
        k = self._n_onset
        db = np.log10(power[:k] + 1e-30)  # bels (x 10 = dB, once, on the flux)
        lag = self.onset_lag
        pl = power.tolist()
        if self._hist is None:  # the first full window: its own levels are the history
            self._hist = np.repeat(db[None, :], lag, axis=0)
            self._recent = [[pl[k]] * self.span, [pl[k + 1]] * self.span]
        flux = 10.0 * float(np.maximum(db - self._hist.max(axis=0), 0.0).sum()) / k
        i = self._at
        self._hist[i] = db
        self._at = (i + 1) % lag
        fired = ()
        if self._onset.step(flux, sum(pl[:k]) > self._onset_floor):
            fired = ("onset",)
        for j, name in ((0, "kick"), (1, "snare")):
            r = self._recent[j]
            r.pop(0)
            r.append(pl[k + j])
            if self._bands[j].step(sum(r)):
                fired += (name,)
        return fired
