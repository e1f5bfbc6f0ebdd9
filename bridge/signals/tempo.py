"""``beat``, ``bpm``, ``bpmconfidence``, ``beatphase``: a causal tempo tracker on the onset envelope.

Why our own: aubio/madmom/BTrack are heavy dependencies for one number, and the live engine needs
something that costs a few microseconds per frame and never looks ahead. The method is the classic
one (Ellis 2007, Davies & Plumbley 2007), made causal and incremental:

1. **Onset envelope.** The extractor's onset column (mean positive rise of the mel bands, what
   ``librosa.beat`` uses) minus its own 1 s running mean, so the autocorrelation sees zero-mean data.
2. **Leaky autocorrelation.** Each frame adds ``o[t] * o[t - L]`` for every lag ``L`` up to four
   beats of the slowest tempo (4 s) to an accumulator that forgets with time constant ``memory``
   (4 s). That is O(lags) per frame, one vector multiply-add.

   Live, each frame only records its onset and low-band power: the envelopes (steps 1 and 4) are
   computed, and the multiply-adds folded in, in bursts just before the code that reads them (the
   tempo estimate every 0.25 s, the phase alignment every 0.1 s). Same numbers, frame by frame in
   the same order; a burst of the same small operations runs warm in the CPU's caches, which the
   same work spread over frames, between the extractor's and the models' work, does not.
3. **Tempo** (every ``tempo_update`` = 0.25 s): the lag pair ``[L, L+1]`` in 60..200 BPM
   maximising ``(acf[L] + acf[L+1] + 0.5 * (acf[2L] + acf[2L+1] + acf[2L+2])) * prior``, where the
   prior is a log-normal around 120 BPM one octave wide (librosa's default). Summing neighbouring
   lags catches periods that fall between whole frames (124 BPM at 30 fps is 14.5 frames). The
   harmonic term and the prior resolve octave ambiguity towards 80-160 BPM; music whose tempo is
   well outside that band can still be reported at double or half its tempo (the octave errors
   every tracker makes; a 60 BPM ballad with eighth-note hats reads 120). The winning lag is
   refined to a fraction of a frame from the parabolic peaks at 1..4 multiples of it (least
   squares), so 124 BPM at 60 fps reads 124.0, not the 124.1 / 128.4 integer lags give. A new
   tempo replaces the current one only if it scores 10 % higher (no flip-flopping between
   octaves); small refinements pass freely.
4. **Phase** (every ``update`` = 0.1 s). Given the period P, a comb over the last ``comb_beats``
   (4) beats finds the offset since the last beat, on an envelope that adds the low band's rise
   to the onsets (so the clock locks to the kick, not to off-beat hats). The beat clock is pulled
   towards it (half of the error per update) and fires ``beat`` on the frame nearest each
   predicted beat, compensating the envelope's delay behind the audio (``delay``, 30 ms). Beats
   are *predicted*, so they land on the beat instead of after it.
5. **Confidence** = mean of ``acf[k P] / acf[0]`` for k = 1, 2, 3, clipped to 0..1 and smoothed
   over ``confidence_smoothing`` (2 s): a click track reads ~0.95, the demo groove and the test
   music (tests/data/music) 0.5-0.7, white noise 0.15 (at most 0.27 over six seeds). ``beat``
   fires only while confidence >= ``min_confidence`` (0.35); ``bpm`` is 0 until the first
   estimate, which needs ``warmup`` (3 s) after the first sound.

Behaviour measured at 60 fps (tests/signals/test_tempo.py checks the same signals):
librosa click tracks at 60/90/124/150 BPM lock on the first estimate (3.3 s) to within 0.1 BPM;
the demo groove (124 BPM) too, with beats from ~5 s. After 8 s predicted beats fall within 30 ms
of the true ones (clicks ~20 ms early, the demo's kicks ~13 ms late; one frame is 17 ms). Octave
errors: a 180 BPM click track reads 90 (the prior prefers 90 when both fit equally); anything
whose periodicity is as strong at twice the period may read half tempo. A tempo change (clicks
at 100, then 128 BPM) is followed within 3 s; the old periodicity fades from the accumulator
with time constant ``memory``, so a weak new pulse under a strong old one can take up to about
twice ``memory``. At 8 fps (the research rate) one frame is 125 ms and the 93 ms windows leave
gaps: tempo is often an octave off and beat timing is not meaningful; use >= 30 fps live.
"""

from __future__ import annotations

import math

import numpy as np

from bridge.audio.spec import FeatureSpec
from bridge.signals.bands import Stage, one_pole


class TempoTracker(Stage):
    """Causal tempo and beat tracker: ``process(frames) -> (n, 4)``: beat, bpm, confidence, phase."""

    names = ("beat", "bpm", "bpmconfidence", "beatphase")

    def __init__(self, spec: FeatureSpec | None = None, *, min_bpm: float = 60.0,
                 max_bpm: float = 200.0, memory: float = 4.0, update: float = 0.1,
                 tempo_update: float = 0.25,
                 prior_bpm: float = 120.0, prior_octaves: float = 1.0, delay: float = 0.030,
                 warmup: float = 3.0, min_confidence: float = 0.35,
                 confidence_smoothing: float = 2.0, comb_beats: int = 4,
                 layout=None):
        s = spec if spec is not None else FeatureSpec()
        fr = s.frame_rate
        self.min_bpm, self.max_bpm = float(min_bpm), float(max_bpm)
        self.fr = fr
        self.lag_min = max(1, int(math.floor(60.0 * fr / max_bpm)))
        self.lag_max = max(self.lag_min + 1, int(math.ceil(60.0 * fr / min_bpm)))
        self.n_lags = 4 * self.lag_max + 2  # acf lags 0 .. n_lags-1 (harmonics up to 4 periods)
        self.comb_beats = int(comb_beats)
        self._decay = 1.0 - one_pole(memory, fr)
        self._mean_alpha = one_pole(1.0, fr)
        self.update_frames = max(1, round(update * fr))  # phase alignment
        self.tempo_frames = max(1, round(tempo_update * fr))  # tempo re-estimation
        self._conf_alpha = one_pole(confidence_smoothing, fr / self.tempo_frames)
        self.delay_frames = delay * fr
        self.warmup_frames = warmup * fr
        self.min_confidence = float(min_confidence)
        self._buf_len = max(4096, 4 * (self.n_lags + self.comb_beats * self.lag_max + 4))
        lags = np.arange(self.lag_min, self.lag_max)
        bpm = 60.0 * fr / (lags + 0.5)
        self._cand = lags
        self._prior = np.exp(-0.5 * (np.log2(bpm / prior_bpm) / prior_octaves) ** 2)
        score = np.zeros((lags.size, self.n_lags))
        rows = np.arange(lags.size)
        for offset, weight in ((lags, 1.0), (lags + 1, 1.0), (2 * lags, 0.5), (2 * lags + 1, 0.5),
                               (2 * lags + 2, 0.5)):
            score[rows, offset] += weight
        self._score_matrix = score * self._prior[:, None]
        super().__init__(s, layout=layout)

    def reset(self) -> None:
        self._buf = np.zeros(self._buf_len)
        self._pbuf = np.zeros(self._buf_len)  # the phase envelope, same positions
        self._low_db = None
        self._low_mean = 0.0
        self._pos = self.n_lags  # index the next envelope value is written to
        self._acf = np.zeros(self.n_lags)  # _acf[k] = accumulated o[t] * o[t - k]
        self._folded = self._pos  # envelope values before this position are in _acf
        self._pending: list[tuple[float, float]] = []  # (onset, low power) not yet in the buffers
        self._mean = 0.0
        self._t = 0  # frames seen
        self._sound = 0  # frames since the onset envelope first moved
        self.period_ = 0.0  # beat period in frames (0 = no estimate yet)
        self._bpm = 0.0
        self._score = 0.0
        self.confidence_ = 0.0
        self._next_beat = math.inf  # frame index of the next predicted beat

    # ---------------------------------------------------------------------------------------------
    def step(self, energies, rms, onset) -> tuple:
        pos = self._pos
        if pos >= self._buf_len:  # keep the last lags contiguous at the front
            self._fold()
            keep = self.n_lags + self.comb_beats * self.lag_max + 4
            start = pos - keep
            self._buf[:keep] = self._buf[start:pos].copy()
            self._pbuf[:keep] = self._pbuf[start:pos].copy()
            pos = self._folded = keep
        self._pending.append((onset, energies[0]))  # the envelopes are made by _flush
        self._pos = pos + 1
        if onset > 0.0 or self._sound:
            self._sound += 1  # frames since the first sound
        t = self._t
        self._t = t + 1
        if t % self.tempo_frames == 0:
            self._fold()
            if self._sound >= self.warmup_frames:
                self._estimate()
        elif (self._sound >= self.warmup_frames and self.period_ > 0.0
              and t % self.update_frames == self.update_frames // 2):
            self._phase(t)
        period = self.period_
        if period > 0.0:
            beat = 0.0
            if t + 0.5 >= self._next_beat:
                if self.confidence_ >= self.min_confidence:
                    beat = 1.0
                while self._next_beat <= t + 0.5:
                    self._next_beat += period
            phase = 1.0 - (self._next_beat - t) / period
            return beat, self._bpm, self.confidence_, 0.0 if phase < 0.0 else 1.0 if phase > 1.0 \
                else phase
        return 0.0, 0.0, self.confidence_, 0.0

    def _flush(self) -> None:
        """Turn the frames kept since the last flush (onset, low band power) into the two envelopes
        and write them to ``_buf`` / ``_pbuf`` (positions ending at ``_pos``), frame by frame."""
        pending = self._pending
        if not pending:
            return
        ma, log10 = self._mean_alpha, math.log10
        mean, low_mean, prev = self._mean, self._low_mean, self._low_db
        vs, ps = [], []
        for o, low in pending:
            mean = mean + ma * (o - mean)
            vs.append(o - mean)
            # Phase envelope: onsets plus the rise of the low band, each relative to its mean, so
            # the beat clock locks to kicks rather than to louder off-beat hats.
            low_db = 10.0 * log10(low) if low > 1e-30 else -300.0
            rise = 0.0 if prev is None or low_db < prev else low_db - prev
            if rise > 40.0:
                rise = 40.0
            prev = low_db
            low_mean = low_mean + ma * (rise - low_mean)
            ps.append((o / mean if mean > 1e-9 else 0.0) + (
                rise / low_mean if low_mean > 1e-9 else 0.0))
        self._mean, self._low_mean, self._low_db = mean, low_mean, prev
        start = self._pos - len(pending)
        self._buf[start:self._pos] = vs
        self._pbuf[start:self._pos] = ps
        self._pending = []

    def _fold(self) -> None:
        """Add the envelope values written since the last fold to the leaky autocorrelation, one
        frame after another (exactly the numbers a per-frame update gives)."""
        self._flush()
        acf, buf, decay, n = self._acf, self._buf, self._decay, self.n_lags
        start = self._folded
        for p, v in enumerate(buf[start:self._pos].tolist(), start):
            acf *= decay
            acf += v * buf[p - n + 1:p + 1][::-1]
        self._folded = self._pos

    def _estimate(self) -> None:
        acf = self._acf
        if acf[0] <= 1e-12:  # silence: confidence fades, the last tempo stays
            self.confidence_ *= 1.0 - self._conf_alpha
            return
        # Candidate c stands for periods in [L, L + 1] (L = lags[c]): summing two neighbouring lags
        # catches a period that falls between integer lags (124 BPM at 30 fps is 14.5 frames), and
        # the harmonic term sums the three lags around 2L + 1.
        scores = self._score_matrix @ acf  # the sums above, times the prior, in one product
        best = int(np.argmax(scores))
        score = float(scores[best])
        values = acf.tolist()  # scalar work is faster on a list
        period = self._refine(values, self._cand[best] + 0.5)
        if self.period_ > 0.0:
            current = int(math.floor(self.period_ - 0.5)) - self.lag_min
            same = abs(period - self.period_) <= 0.04 * self.period_
            if not same and 0 <= current < scores.size and score < 1.1 * float(scores[current]):
                period = self._refine(values, self.period_)
        self.period_ = period
        self._bpm = 60.0 * self.fr / period
        # Periodic music correlates at 1, 2 and 3 periods; noise only where its maximum was picked.
        peaks = sum(self._interp(values, k * period) for k in (1, 2, 3)) / 3.0
        raw = min(1.0, max(0.0, peaks / values[0]))
        self.confidence_ += self._conf_alpha * (raw - self.confidence_)

    @staticmethod
    def _interp(a: list, x: float) -> float:
        i = int(x)
        f = x - i
        return a[i] * (1.0 - f) + a[i + 1] * f if i + 1 < len(a) else a[-1]

    @staticmethod
    def _refine(acf: list, lag: float) -> float:
        """Sub-frame period from the parabolic peaks near ``k * lag``, k = 1..4 (least squares)."""
        size = len(acf)
        num = den = 0.0
        for k in range(1, 5):
            centre = k * lag
            lo = max(1, int(math.floor(centre - k)))
            hi = min(size - 2, int(math.ceil(centre + k)))
            if lo > hi:
                break
            window = acf[lo:hi + 1]
            j = lo + window.index(max(window))
            y0, y1, y2 = acf[j - 1], acf[j], acf[j + 1]
            curv = y0 - 2.0 * y1 + y2
            peak = j + (0.5 * (y0 - y2) / curv if curv < 0.0 else 0.0)
            if not (y1 > 0.0) or abs(peak - centre) > k:
                break  # no clear peak at this multiple: trust the ones before
            num += k * peak
            den += k * k
        return num / den if den else float(lag)

    def _phase(self, t: int) -> None:
        """Align the beat clock with the comb over the last beats of the envelope."""
        self._flush()
        period = self.period_
        n_off = int(math.ceil(period))
        # comb[j] = sum over the last comb_beats beats of the envelope j frames before each of them
        newest = self._pos - 1
        comb = np.zeros(n_off)
        for b in range(self.comb_beats):
            end = newest - round(b * period)  # offset 0 of beat b back
            comb += self._pbuf[end - n_off + 1:end + 1]
        comb = comb[::-1].tolist()
        k = comb.index(max(comb))
        y0, y1, y2 = comb[(k - 1) % n_off], comb[k], comb[(k + 1) % n_off]
        curv = y0 - 2.0 * y1 + y2
        since = k + (0.5 * (y0 - y2) / curv if curv < 0.0 else 0.0)  # frames since the last peak
        # The envelope peaks `delay` after the beat's audio: the last beat was at t - since - delay.
        target = t - since - self.delay_frames + period
        while target <= t - 0.5:
            target += period
        if not math.isfinite(self._next_beat):
            self._next_beat = target
            return
        err = target - self._next_beat
        err -= period * round(err / period)  # the nearest equivalent beat
        self._next_beat += 0.5 * err
        while self._next_beat <= t - 0.5:
            self._next_beat += period
