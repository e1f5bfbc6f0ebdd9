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
vectorised speed; with ``workers > 1`` the batches of one large block run on that many threads (numpy
releases the GIL), which offline extraction uses. Live blocks hold one frame and never touch a thread.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bridge.audio.melbank import mel_filterbank, periodic_hann
from bridge.audio.spec import FeatureSpec
from bridge.errors import InputError


class FeatureExtractor:
    """Streaming log-mel + RMS + onset extractor: ``process(block) -> (n_new_frames, 66)``.

    ``block`` is mono audio at ``spec.sample_rate`` (any length, float or int PCM already scaled to
    [-1, 1]). State carried between calls: the samples of the next, incomplete frame and the last
    ``onset_lag`` mel frames. :meth:`reset` forgets both, as if a new stream started.
    """

    def __init__(self, spec: FeatureSpec | None = None, *, workers: int = 1, batch: int = 64):
        self.spec = spec if spec is not None else FeatureSpec()
        s = self.spec
        if int(workers) < 1 or int(batch) < 1:
            raise ValueError(f"workers and batch must be >= 1; got workers={workers}, batch={batch}")
        self.workers = int(workers)
        self.batch = int(batch)
        self._pool = None
        self._n_fft = s.n_fft
        self._hop = s.hop_length
        self._window = periodic_hann(s.n_fft)
        bank = mel_filterbank(sample_rate=s.sample_rate, n_fft=s.n_fft, n_mels=s.n_mels,
                              fmin=s.fmin, fmax=s.fmax, htk=s.mel_htk, norm=s.mel_norm)
        self._mel_t = np.ascontiguousarray(bank.astype(np.float64).T)  # (n_bins, n_mels)
        self._log_amin = 10.0 * np.log10(s.amin)
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
        spans = [(a, min(n, a + self.batch)) for a in range(0, n, self.batch)]
        if self.workers > 1 and len(spans) > 1:
            list(self._executor().map(lambda ab: self._spectral(buf, *ab, out[ab[0]:ab[1]]), spans))
        else:
            for a, b in spans:
                self._spectral(buf, a, b, out[a:b])
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
        if x.dtype.kind not in "fiu":
            raise InputError(f"FeatureExtractor.process expects real audio samples; got dtype {x.dtype}.")
        x = x.astype(np.float64, copy=False)
        finite = np.isfinite(x)
        if not finite.all():
            bad = int(np.size(x) - np.count_nonzero(finite))
            first = self.samples_seen + int(np.argmin(finite))
            raise InputError(f"audio contains {bad} non-finite sample(s) (NaN or inf), the first at "
                             f"stream sample {first}; check the source (a decoder or plugin emitting "
                             "garbage) before feature extraction.")
        return x

    def _executor(self):
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="vjbridge-features")
        return self._pool

    def close(self) -> None:
        """Release the worker threads (only created when ``workers > 1``)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _spectral(self, buf: np.ndarray, start: int, stop: int, out: np.ndarray) -> None:
        """Mel dB and RMS of frames ``start..stop`` of ``buf``; numpy releases the GIL here."""
        hop, n_fft, n_mels = self._hop, self._n_fft, self.spec.n_mels
        if stop - start == 1:
            frames = buf[start * hop:start * hop + n_fft][None, :]
        else:
            frames = sliding_window_view(buf[start * hop:(stop - 1) * hop + n_fft], n_fft)[::hop]
        spectrum = np.fft.rfft(frames * self._window, axis=1)
        power = spectrum.real ** 2 + spectrum.imag ** 2
        mel = power @ self._mel_t
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
