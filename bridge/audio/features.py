"""`FeatureExtractor`: the one streaming feature extractor, for training and for the stage.

Why one object for both: a model is only as good as the agreement between the features it was trained
on and the features it sees live. Offline extraction feeds a whole file through this same
``process()``; the live daemon feeds device blocks. Whatever the block sizes, the frames are the same
(tested to 1e-6), and they equal the librosa reference (tested: mel within 1e-3 dB, RMS 1e-5 relative,
onset 1e-3)::

    S = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop, window="hann",
                                       center=False, power=2.0, n_mels=64)
    mel_db = librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=None)
    rms = librosa.feature.rms(y=y, frame_length=n_fft, hop_length=hop, center=False)[0]
    onset = librosa.onset.onset_strength(S=mel_db, sr=sr, n_fft=n_fft, hop_length=hop,
                                         lag=1, max_size=1, center=False)

Frame ``t`` covers stream samples ``[t*hop, t*hop + n_fft)`` and is returned by the call that
delivers its last sample. Complete frames of a block are computed together (one batched FFT and one
matrix product per ``batch`` frames, sized to stay in cache), so a whole file goes through at
vectorised speed. The FFT runs on FFTW when pyFFTW is installed (see :mod:`bridge.audio.fft`);
``threads > 1`` lets FFTW split full batches across cores (offline extraction uses it; a live
one-frame block always runs on the calling thread). BLAS (the mel products, the finiteness check)
runs on the calling thread for any block larger than a few frames: :mod:`bridge.audio.blas` says
why.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bridge.audio.blas import one_blas_thread
from bridge.audio.fft import WindowedPowerFFT
from bridge.audio.melbank import MelProjector, mel_filterbank, periodic_hann
from bridge.audio.spec import FeatureSpec
from bridge.errors import InputError

_F64 = np.dtype(np.float64)


class FeatureExtractor:
    """Streaming log-mel + RMS + onset extractor: ``process(block) -> (n_new_frames, 66)``.

    ``block`` is mono float audio at ``spec.sample_rate``, any length, nominally in [-1, 1]. State carried between calls: the samples of the next, incomplete frame and the last
    ``onset_lag`` mel frames. :meth:`reset` forgets both, as if a new stream started.
    """

    def __init__(self, spec: FeatureSpec | None = None, *, batch: int = 64, threads: int = 1):
        self.spec = spec if spec is not None else FeatureSpec()
        s = self.spec
        if int(batch) < 1 or int(threads) < 1:
            raise ValueError(f"batch and threads must be >= 1; got batch={batch}, threads={threads}")
        self.batch = int(batch)
        self.threads = int(threads)
        self._n_fft = s.n_fft
        self._hop = s.hop_length
        self._mel = MelProjector(mel_filterbank(
            sample_rate=s.sample_rate, n_fft=s.n_fft, n_mels=s.n_mels, fmin=s.fmin, fmax=s.fmax,
            htk=s.mel_htk, norm=s.mel_norm))
        self._fft = WindowedPowerFFT(periodic_hann(s.n_fft), max_rows=self.batch,
                                     batch_threads=self.threads)
        self._mel_buf = np.empty((self.batch, s.n_mels))
        self._one = _OneFrame(self)
        self.reset()

    def reset(self) -> None:
        """Start a new stream: drop buffered samples and onset history."""
        self._pending = np.zeros(0, dtype=np.float64)  # starts at the next frame's first sample
        self._skip = 0  # samples still to drop before the next frame starts (hop > n_fft)
        self._history = np.zeros((0, self.spec.n_mels))  # last <= onset_lag mel-dB frames
        self.samples_seen = 0
        self.frames_emitted = 0
        self._one.reset()

    # ---------------------------------------------------------------------------------------------
    def process(self, block) -> np.ndarray:
        """Consume ``block`` and return every frame it completes, shape ``(n, n_mels + 2)``."""
        size = block.size if type(block) is np.ndarray else np.size(block)
        if size > self._one.cap:  # a batch: BLAS on this thread only (bridge.audio.blas)
            with one_blas_thread():
                return self._batch(self._validated(block))
        x = self._validated(block)
        if not self._skip and self._one.take(self, x.size):
            return self._one.process(self, x)  # small blocks (the live engine): no reallocation
        return self._batch(x)

    def _batch(self, x: np.ndarray) -> np.ndarray:
        """Every frame ``x`` completes, computed together (``batch`` frames per FFT call)."""
        self._one.release(self)
        self.samples_seen += x.size
        if self._skip:
            dropped = min(self._skip, x.size)
            x = x[dropped:]
            self._skip -= dropped
        buf = np.concatenate((self._pending, x)) if self._pending.size else x
        n = self.spec.n_frames_for(buf.size)
        if n == 0:
            self._pending = buf.copy() if buf is x else buf
            return np.zeros((0, self.spec.n_features))
        out = np.empty((n, self.spec.n_features))
        for a in range(0, n, self.batch):
            self._spectral(buf, a, min(n, a + self.batch), out[a:a + self.batch])
        self._onset(out[:, :self.spec.n_mels], out[:, self.spec.n_mels + 1])
        consumed = n * self._hop
        if consumed >= buf.size:
            self._skip = consumed - buf.size
            self._pending = np.zeros(0, dtype=np.float64)
        else:
            self._pending = buf[consumed:].copy()
        self.frames_emitted += n
        return out

    def _validated(self, block) -> np.ndarray:
        if type(block) is np.ndarray and block.dtype is _F64 and block.ndim == 1:
            # the usual case, checked cheaply: a sum of squares (BLAS, ~2x cheaper than a plain
            # sum) is finite iff every sample is, unless it overflows (|x| > 1e153): then the
            # exact check below decides
            if math.isfinite(block.dot(block)):
                return block
        x = np.asarray(block)
        if x.ndim == 2 and 1 in x.shape:
            x = x.reshape(-1)
        if x.ndim != 1:
            raise InputError(f"FeatureExtractor.process expects mono audio, a 1-D array; got shape "
                             f"{x.shape}. Downmix first (e.g. block.mean(axis=1)).")
        if x.dtype.kind != "f":
            raise InputError(f"FeatureExtractor.process expects float samples in [-1, 1]; got dtype "
                             f"{x.dtype} (scale integer PCM first, e.g. int16 / 32768).")
        x = x.astype(np.float64, copy=False)
        if np.isfinite(np.add.reduce(x)):  # a sum is finite iff every sample is (audio is small)
            return x
        finite = np.isfinite(x)
        if not finite.all():
            bad = int(np.size(x) - np.count_nonzero(finite))
            first = self.samples_seen + int(np.argmin(finite))
            raise InputError(f"audio contains {bad} non-finite sample(s) (NaN or inf), the first at "
                             f"stream sample {first}; check the source (a decoder or plugin emitting "
                             "garbage) before feature extraction.")
        return x

    def _spectral(self, buf: np.ndarray, start: int, stop: int, out: np.ndarray) -> None:
        """Mel dB and RMS of frames ``start..stop`` of ``buf`` into ``out`` (``stop - start`` rows)."""
        hop, n_fft, n_mels = self._hop, self._n_fft, self.spec.n_mels
        if stop - start == 1:
            frames = buf[start * hop:start * hop + n_fft][None, :]
        else:
            frames = sliding_window_view(buf[start * hop:(stop - 1) * hop + n_fft], n_fft)[::hop]
        mel = self._mel(self._fft.power(frames), self._mel_buf[:stop - start])
        db = out[:, :n_mels]
        np.log10(np.maximum(mel, self.spec.amin), out=db)
        db *= 10.0
        out[:, n_mels] = np.sqrt(np.einsum("ij,ij->i", frames, frames) / n_fft)

    def _onset(self, db: np.ndarray, onset: np.ndarray) -> None:
        """Mean positive dB rise over ``lag`` frames; the stream's first ``lag`` frames are 0."""
        lag = self.spec.onset_lag
        stacked = np.concatenate((self._history, db)) if self._history.size else db
        n_prev = stacked.shape[0] - db.shape[0]
        rise = stacked[lag:] - stacked[:-lag]  # rise[i] belongs to stacked row i + lag
        first = lag - n_prev  # rows of this batch without a predecessor `lag` frames back
        if first > 0:
            onset[:first] = 0.0
        rows = rise[max(0, n_prev - lag):]
        onset[max(first, 0):] = np.maximum(rows, 0.0).mean(axis=1)
        self._history = stacked[-lag:].copy()


class OnsetRing:
    """Onset strength one frame at a time: the mean positive rise of a frame's mel dB over the
    frame ``lag`` back (0 while there is none), with the last ``lag`` frames in a ring.

    ``step(db, t)`` is the batch path's arithmetic (:meth:`FeatureExtractor._onset`) for stream
    frame ``t``, operation for operation, with in-place calls on preallocated arrays. The live
    extractor and :class:`bridge.models.runner.ModelRunner` (which recomputes the onset at a
    model's own lag) both use it. ``ring`` row ``t % lag`` holds frame ``t``'s mel dB.
    """

    def __init__(self, lag: int, n_mels: int):
        self.lag, self.n_mels = lag, n_mels
        self.ring = np.zeros((lag, n_mels))
        self.rows = list(self.ring)  # row views, made once
        self.rise = np.empty(n_mels)
        self.zeros = np.zeros(n_mels)  # an array operand: a Python scalar costs ~0.15 µs

    def reset(self) -> None:
        self.ring[:] = 0.0

    def step(self, db: np.ndarray, t: int) -> float:
        old = self.rows[t % self.lag]  # mel dB of frame t - lag
        if t >= self.lag:
            rise = self.rise
            np.subtract(db, old, rise)
            np.maximum(rise, self.zeros, out=rise)
            onset = np.add.reduce(rise) / self.n_mels  # = rise.mean(): the same sum and division
        else:
            onset = 0.0
        old[...] = db
        return onset


class _OneFrame:
    """The extractor's path for blocks that leave at most a few frames (the live engine feeds one
    hop, or one resampler output of ~2 hops, per call): samples gather in a preallocated buffer
    instead of a concatenated ``_pending``, and each frame is computed on its own with in-place
    numpy calls on preallocated views (each call costs ~0.3-1 µs on a busy 2-core box, so their
    count is most of the cost; two frames this way cost less than the batch path's two-row FFT,
    sliding window and onset concatenation). The arithmetic is the batch path's, operation for
    operation, except the RMS sum of squares (a dot product instead of einsum) and the mel product
    (BLAS gemv instead of gemm): equal to ~1e-16 relative. Larger blocks, and hop > n_fft (frames
    with gaps), take the batch path; the pending samples and the onset history move between the
    two representations.
    """

    def __init__(self, ex: FeatureExtractor):
        s = ex.spec
        self.n_fft, self.hop, self.n_mels = s.n_fft, s.hop_length, s.n_mels
        self.cap = s.n_fft + min(4, ex.batch - 1) * min(s.hop_length, s.n_fft)  # <= 5 frames/call
        self.buf = np.empty(self.cap)
        # the frames a block can complete: frame i of a call covers buf[i*hop:i*hop + n_fft]
        self.frames = [self.buf[i * s.hop_length:i * s.hop_length + s.n_fft]
                       for i in range(1 + (self.cap - s.n_fft) // max(1, s.hop_length))]
        self.amin = s.amin
        self.lag = s.onset_lag
        self.n_features = s.n_features
        self.empty = np.zeros((0, s.n_features))
        self.empty.flags.writeable = False
        fft = ex._fft
        src, dst, self.fftw = fft._plan(1)
        # without pyFFTW, or with gaps between frames (hop > n_fft), every block takes the batch path
        self.ok = self.fftw is not None and self.hop <= self.n_fft
        self.src = src[0]
        self.window = fft.window
        self.dst = dst
        # 1-D views (a 1-D operand is ~0.3 µs cheaper than a (1, n) one)
        self.dst_f = dst.view(np.float64)[0]  # the spectrum as interleaved re, im
        self.squares = fft._squares[0]
        self.power = fft._power[0]
        self.re, self.im = self.squares[0::2], self.squares[1::2]
        self.mel = ex._mel_buf[:1]
        # 1-D views: np.dot(vector, matrix) gives the 1-row matmul's bits (both BLAS gemv), ~0.3 µs
        # cheaper per call
        self.parts = [(self.power[lo:hi], part, self.mel[0, first:last])
                      for first, last, lo, hi, part in ex._mel._parts]
        self.amins = np.full(s.n_mels, s.amin)  # array operands: a Python scalar costs ~0.15 µs
        self.tens = np.full(s.n_mels, 10.0)
        self.onset = OnsetRing(self.lag, s.n_mels)
        self.ring = self.onset.ring  # mel-dB frame t in row t % lag
        self.active = False

    def reset(self) -> None:
        self.fill = 0  # buf[:fill] = the pending samples (the next frame starts at buf[0])
        self.onset.reset()
        self.active = self.ok  # this path owns the pending samples and the onset history

    def take(self, ex: FeatureExtractor, size: int) -> bool:
        """True when this block goes through here (taking the state over from the batch path)."""
        if self.active:
            return self.fill + size <= self.cap
        if not self.ok or ex._pending.size + size > self.cap:
            return False
        k = ex._pending.size
        self.buf[:k] = ex._pending
        self.fill = k
        t0 = ex.frames_emitted
        for i, row in enumerate(ex._history):  # the last rows: frames t0 - len .. t0 - 1
            self.ring[(t0 - len(ex._history) + i) % self.lag] = row
        ex._pending = np.zeros(0, dtype=np.float64)
        self.active = True
        return True

    def release(self, ex: FeatureExtractor) -> None:
        """Hand the pending samples and the onset history to the batch path."""
        if self.active:
            ex._pending = self.buf[:self.fill].copy()
            ex._history = self._history(ex.frames_emitted)
            self.active = False

    def process(self, ex: FeatureExtractor, x: np.ndarray) -> np.ndarray:
        fill, buf = self.fill, self.buf
        ex.samples_seen += x.size
        end = fill + x.size
        buf[fill:end] = x
        if end < self.n_fft:
            self.fill = end
            return self.empty
        n = 1 + (end - self.n_fft) // self.hop
        t0 = ex.frames_emitted
        out = np.empty((n, self.n_features))
        for i in range(n):  # a few frames (<= 5): one at a time, cheaper than the batch path
            self._frame(out[i], t0 + i, self.frames[i])
        consumed = n * self.hop
        rest = end - consumed
        if rest:
            buf[:rest] = buf[consumed:end]
        self.fill = rest
        ex.frames_emitted = t0 + n
        return out

    def _history(self, t0: int) -> np.ndarray:
        """The batch path's onset history: mel dB of the last ``min(t0, lag)`` frames, in order."""
        k = min(t0, self.lag)
        return self.ring[[(t0 - k + i) % self.lag for i in range(k)]]

    def _frame(self, row: np.ndarray, t: int, frame: np.ndarray) -> None:
        """Mel dB, RMS and onset of ``frame`` (a view of buf) into ``row``; stream frame ``t``."""
        src, m = self.src, self.n_mels
        np.multiply(frame, self.window, src)  # = copy, then *= window (the same product)
        self.fftw()
        np.square(self.dst_f, self.squares)
        np.add(self.re, self.im, self.power)
        for power, part, mel in self.parts:
            np.dot(power, part, mel)
        mel = self.mel[0]
        np.maximum(mel, self.amins, out=mel)
        db = row[:m]
        np.log10(mel, db)
        np.multiply(db, self.tens, db)
        row[m] = math.sqrt(frame.dot(frame) / self.n_fft)
        row[m + 1] = self.onset.step(db, t)
