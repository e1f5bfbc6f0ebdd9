"""Musical mappings: ``pitch``, ``warmth``, ``roughness`` and ``speed`` from the live frames.

Why these four: the common musical mappings of music visualisation are tempo -> speed of movement,
pitch -> palette (warm to cool) and timbre -> texture (smooth to jagged). A VJ wants them as ready
0..1 controls, not as a chroma vector or a BPM to rescale. Why from the mel bands: the stages see
only the extractor's frames (64 mel dB bands, rms, onset), so offline curves and the live stream
come from the same frames through the same code (:class:`MusicalSignals`, one frame at a time),
and no second FFT is paid for.

**pitch** (0..1 around the octave: ``pitch_class / 12``, C = 0, C# = 1/12, ... B = 11/12; times 12
is the pitch class). Each local maximum of the mel spectrum between 130 Hz (C3) and 5000 Hz, at
most 40 dB below the frame's strongest, whose two bands hold ``contrast`` (3) times what the
bands just outside them hold, is a resolved partial; its frequency is interpolated from the band
and its stronger neighbour as :mod:`bridge.signals.geq` does for ``majorpeak`` (the triangles are
linear between centres: a pure tone within 0.26 semitone from 80 Hz to 5 kHz, measured). Each
partial adds its amplitude to the nearest of 12 pitch classes; the chroma, normalised to its
maximum, is smoothed with time constant ``chroma_s`` (0.25 s), and ``pitch`` is its strongest
class. The peak search runs ``chroma_hz`` (20) times a second, on the mel power summed over the
frames since the last one (every 3rd frame at 60 fps: the search is most of the stage's cost,
~25 µs against ~7 µs for the rest of a frame, and a 0.25 s smoothing needs no more). A tone reads its own pitch class, a full mix its dominant one. This is a coarse chroma:
the mel bands are 51 Hz apart below 1 kHz (3.5 semitones at 250 Hz), so notes closer than a band
merge, a bass note below C3 counts only through its harmonics, and a dense harmonic series (a
bass saw whose partials are about one band apart) is skipped by the contrast rule. Measured
against ``librosa.feature.chroma_stft``'s strongest class (smoothed alike) on 30 s of each test
track: the same class on 53 %, 66 % and 72 % of the frames (chance: 8 %; 58, 72 and 72 % with
the search on every frame); on the demo groove (an A minor pad under a saw bass and distorted
drums) only 14 %.

**warmth** (1 warm .. 0 cool, a palette position): the spectral centroid as librosa computes it
(the magnitude-weighted mean frequency of the FFT bins, here each mel band's amplitude times its
width: r >= 0.97 against ``librosa.feature.spectral_centroid`` on the test music) on a
log-frequency scale, 1 at or below ``warm_hz`` (300 Hz) falling to 0 at or above ``cool_hz``
(6000 Hz): a bass line or a dark pad is warm, hats and bright leads cool (the test music's
medians, 640-2300 Hz, read 0.75-0.32). Not the ``spectralcentroid`` signal, which weights by
mel power and so sits near the bass (135-250 Hz medians on the same music).
Route it through a palette listed cool to warm (``mappings/musical.yaml``), or ``invert: true``.

**roughness** (0 smooth .. 1 jagged): the spectral flatness of the 64 mel band powers (geometric
over arithmetic mean, what ``librosa.feature.spectral_flatness(S=mel_power, power=1)`` computes),
in dB, mapped from ``smooth_db`` (-60 dB: a pure tone reads far below) to 0 dB (every band
equal: white noise) onto 0..1. Tonal, sustained sounds are smooth; noise, distortion and dense
percussion are jagged.

**speed** (a rate multiplier): ``bpm / 120`` from the tempo tracker (or the Link session the run
follows): 1.0 at 120 BPM, 0.5 at 60, 1.67 at 200 (a Link tempo outside 60..200 BPM is clamped
to that); 1.0 until the tracker has a tempo. Multiply a
movement's rate by it (TouchDesigner: ``absTime.seconds * speed`` in a Speed CHOP's input).

In silence (frame power below ``floor_dbfs``, -70 dBFS) pitch, warmth and roughness hold their
last values (warmth 0.5, roughness 0 and pitch 0 before any sound). Cost, one 60 Hz frame per
call, hot loop: median 6 µs, mean 12 µs (the peak search every 3rd frame); in the live
pipeline about twice that (README). The engine adds this stage only when the mapping routes one
of the four (:func:`bridge.runtime.pipeline.build`).
"""

from __future__ import annotations

import math

import numpy as np

from bridge.audio.spec import FeatureSpec

#: The signals, in column order.
NAMES = ("pitch", "warmth", "roughness", "speed")
#: The tempo ``speed`` is 1.0 at, and the range it is kept in (the tracker's 60..200 BPM; a Link
#: session's tempo outside it is clamped).
REFERENCE_BPM = 120.0
SPEED_RANGE = (60.0 / REFERENCE_BPM, 200.0 / REFERENCE_BPM)
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_LN10_TENTH = math.log(10.0) / 10.0
_C0_HZ = 440.0 * 2.0 ** (-57 / 12)  # C0 = 16.35 Hz: pitch class 0 is C
_FLOAT64 = np.dtype(np.float64)


class MusicalSignals:
    """``process(frames, bpm=None) -> (n, 4)`` (pitch, warmth, roughness, speed) and ``reset()``.

    ``frames``: extractor frames ``(n, n_mels + 2)``; ``bpm``: the tempo of each frame (``(n,)``,
    0 = not known yet) or None (speed 1.0). Frame by frame: a whole file at once gives the same
    values as one frame per call."""

    names = NAMES

    def __init__(self, spec: FeatureSpec | None = None, *, chroma_s: float = 0.25,
                 warm_hz: float = 300.0, cool_hz: float = 6000.0, smooth_db: float = -60.0,
                 floor_dbfs: float = -70.0, pitch_hz: tuple[float, float] = (130.0, 5000.0),
                 peak_range_db: float = 40.0, contrast: float = 3.0, chroma_hz: float = 20.0):
        from bridge.audio.melbank import mel_frequencies
        from bridge.signals.bands import BandLayout
        from bridge.signals.geq import GeqLayout

        self.spec = s = spec if spec is not None else FeatureSpec()
        if not 0 < warm_hz < cool_hz:
            raise ValueError(f"warm_hz must be below cool_hz; got {warm_hz} and {cool_hz}")
        geq = GeqLayout(s)  # the band centres and each band's full-scale tone reading
        self._n = s.n_mels
        c = geq.centres_hz
        self._centres = c
        # a band's amplitude times its width ~ the FFT magnitudes it sums: their centroid is
        # librosa.feature.spectral_centroid's (linear bins, magnitude), r >= 0.97 on real music
        edges = mel_frequencies(s.n_mels + 2, fmin=s.fmin, fmax=s.fmax, htk=s.mel_htk)
        self._width_hz = edges[2:] - edges[:-2]
        self._width_centres = self._width_hz * c
        self._half = np.full(self._n, 0.5)
        self._inv_tone = 1.0 / geq.tone_fs
        self._ln10 = np.full(self._n, _LN10_TENTH)
        lo, hi = pitch_hz
        self._inside = (c >= lo) & (c <= hi)
        self._buf = np.zeros(self._n + 4)  # the tone-equivalent powers with two empty bands a side
        # the distance to the band above and below (0 at the ends: an end band's partial reads
        # its centre; its outside neighbour is empty padding)
        self._step_up = np.append(np.diff(c), 0.0)
        self._step_down = np.insert(-np.diff(c), 0, 0.0)
        self._floor = float(BandLayout(s).fullscale[5] * 10 ** (floor_dbfs / 10))
        self._peak_ratio = 10 ** (-peak_range_db / 10)
        self._contrast = float(contrast)
        self._every = max(1, round(s.frame_rate / chroma_hz))  # frames between chroma updates
        step_s = self._every / s.frame_rate
        self._decay = math.exp(-step_s / chroma_s) if chroma_s > 0 else 0.0
        self._one_frame = (1, s.n_features)
        self._log_warm = math.log(warm_hz)
        self._log_span = math.log(cool_hz) - self._log_warm
        self._smooth_db = float(smooth_db)
        self._inv_n = 1.0 / self._n
        self.reset()

    def reset(self) -> None:
        """Forget the chroma and the held values (a new stream)."""
        self.chroma = np.zeros(12)
        self._last = [0.0, 0.5, 0.0]
        self._pitch = 0.0
        self._count = self._every - 1  # the first sound computes a chroma at once
        self._acc = np.zeros(self._n)

    # ---- one frame ---------------------------------------------------------------------------
    def _chroma(self, power: np.ndarray) -> np.ndarray | None:
        """12 pitch-class amplitudes of the resolved partials in ``power`` (mel band powers), or
        None when there is none. Computed for every band at once (a band that is no peak is
        masked out at the end): on 64 values numpy's cost is its number of calls, not their
        length, so this beats picking the peaks first and indexing."""
        buf = self._buf  # each band's power over a full-scale tone's there, two empty bands a side
        tone = np.multiply(power, self._inv_tone, out=buf[2:-2])
        left, right = buf[1:-3], buf[3:-1]
        floor = float(tone.max()) * self._peak_ratio
        peak = (tone > left) & (tone >= right) & (tone > floor) & self._inside
        up = right >= left  # the stronger neighbour is above
        rj = np.maximum(left, right)
        # what the bands just outside the pair hold: a partial the pair resolves leaves them
        # nearly empty; a dense harmonic series (a bass saw, partials ~ one band apart) fills them
        outside = np.where(up, left + buf[4:], right + buf[:-4])
        total = tone + rj
        ok = peak & (total > self._contrast * outside)
        if not ok.any():
            return None
        hz = np.where(up, self._step_up, self._step_down)
        hz *= rj / total
        hz += self._centres
        pc = np.rint(np.log2(hz * (1.0 / _C0_HZ)) * 12.0).astype(np.intp) % 12
        return np.bincount(pc[ok], weights=np.sqrt(total[ok]), minlength=12)

    def _step(self, db: np.ndarray, bpm: float) -> list:
        power = np.multiply(db, self._ln10)
        np.exp(power, power)
        total = float(power.sum())
        speed = bpm / REFERENCE_BPM if bpm > 0.0 else 1.0
        speed = SPEED_RANGE[0] if speed < SPEED_RANGE[0] else \
            SPEED_RANGE[1] if speed > SPEED_RANGE[1] else speed
        if total <= self._floor:  # silence: hold
            return [*self._last, speed]
        acc = self._acc
        acc += power  # the frames since the last chroma, summed
        self._count += 1
        if self._count >= self._every:  # the chroma, chroma_hz times a second
            self._count = 0
            chroma = self._chroma(acc)
            acc.fill(0.0)
            if chroma is not None:
                chroma *= (1.0 - self._decay) / float(chroma.max())
                smoothed = self.chroma
                smoothed *= self._decay
                smoothed += chroma
            self._pitch = float(int(self.chroma.argmax())) / 12.0
        amp = np.sqrt(power, power)  # power is not needed after this
        centroid = float(np.dot(amp, self._width_centres)) / float(np.dot(amp, self._width_hz))
        w = 1.0 - (math.log(centroid) - self._log_warm) / self._log_span if centroid > 0 else 1.0
        warmth = 0.0 if w < 0.0 else 1.0 if w > 1.0 else w
        flat_db = float(db.sum()) * self._inv_n - 10.0 * math.log10(total * self._inv_n)
        r = 1.0 - flat_db / self._smooth_db
        rough = 0.0 if r < 0.0 else 1.0 if r > 1.0 else r
        pitch = self._pitch
        self._last = [pitch, warmth, rough]
        return [pitch, warmth, rough, speed]

    def process(self, frames, bpm=None) -> np.ndarray:
        """Values for each frame of ``frames``; ``bpm``: the tempo per frame (or None)."""
        nm = self._n
        if type(frames) is np.ndarray and frames.shape == self._one_frame \
                and frames.dtype is _FLOAT64:  # the live case, without as_frames' calls
            return np.array((self._step(frames[0, :nm], 0.0 if bpm is None else float(bpm[0])),))
        from bridge.signals.bands import as_frames

        x = as_frames(frames, self.spec)
        n = x.shape[0]
        tempo = [0.0] * n if bpm is None else np.asarray(bpm, dtype=np.float64).reshape(n).tolist()
        return np.array([self._step(x[i, :nm], tempo[i]) for i in range(n)],
                        dtype=np.float64).reshape(n, len(NAMES))


def flatness_db(mel_db: np.ndarray) -> np.ndarray:
    """Spectral flatness (dB) of mel dB frames ``(n, n_mels)``: the value ``roughness`` maps."""
    db = np.asarray(mel_db, dtype=np.float64)
    power = np.power(10.0, db / 10.0)
    return db.mean(axis=1) - 10.0 * np.log10(power.mean(axis=1))


def pitch_name(pitch: float) -> str:
    """``pitch`` (0..1) -> its pitch class name (``0.75`` -> ``'A'``)."""
    return PITCH_CLASSES[int(round(pitch * 12)) % 12]
