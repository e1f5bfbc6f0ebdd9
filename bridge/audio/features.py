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
one-frame block always runs on the calling thread).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bridge.audio.fft import WindowedPowerFFT
from bridge.audio.melbank import MelProjector, mel_filterbank, periodic_hann
from bridge.audio.spec import FeatureSpec
from bridge.errors import InputError


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
        self.reset()

    def reset(self) -> None:
        """Start a new stream: drop buffered samples and onset history."""
        self._pending = np.zeros(0, dtype=np.float64)  # starts at the next frame's first sample
        self._skip = 0  # samples still to drop before the next frame starts (hop > n_fft)
        self._history = np.zeros((0, self.spec.n_mels))  # last <= onset_lag mel-dB frames
        self.samples_seen = 0
        self.frames_emitted = 0

    # ---------------------------------------------------------------------------------------------
    def process(self, block) -> np.ndarray:
        """Consume ``block`` and return every frame it completes, shape ``(n, n_mels + 2)``."""
        x = self._validated(block)
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
