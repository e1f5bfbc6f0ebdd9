"""The whole-file kernels of :class:`~bridge.audio.resample.StreamResampler` (``whole_file=True``).

Why a second kernel (issue 9, point 7: a whole file must extract at least 2x faster than
``librosa.load`` + the reference features). The live kernel computes every output as its own dot
product of ``2h`` (~224-244) input samples with its phase's coefficients, one ``einsum`` row per
output, so its output does not depend on how the input is split into device blocks. That is
~90-100 ns an output at 44.1 kHz and 270 ns at 48 kHz (the gather of each output's window), the
largest stage of a whole file (0.40 s of a 207 s Vorbis track, 1.3 s of the same at 48 kHz). A file
read whole does not need output for every 10 ms block, so these kernels compute the *same filter*
(the same coefficients, :func:`~bridge.audio.resample.design`) on a fixed grid of large blocks of
outputs:

* an integer ratio (44.1 or 88.2 kHz -> 22,050 Hz, ``L == 1``): FFT overlap-save, the ``M``
  polyphase branches correlated in the frequency domain (one forward FFT of the ``M`` branches,
  one inverse), on FFTW when pyFFTW is present (numpy's pocketfft otherwise);
* other ratios (48 kHz: 147/320): one BLAS matrix product per group of outputs over every period
  of ``L`` outputs in the block: the input windows of one group in successive periods are ``M``
  samples apart, so they are a strided view of the input (no gather), and the group's coefficients
  are a banded ``(span, g)`` matrix (zeros outside each output's taps).

Each grid block is computed from the same input samples by the same fixed-shape kernel wherever
the file's blocks fall, so the output is bit-identical for any split *of this kernel* (tested); it
differs from the live kernel by rounding only: measured <= 2e-15 on real music (samples of
magnitude <= 1), tested <= 1e-12 on samples, <= 1e-9 on features and <= 1e-6 on the shipped models'
outputs (tests/audio/test_offline_identity.py), so models trained on either path need no retrain.
The cost: a block's outputs are released when the block's last input has arrived (the whole-file
readers do not care; the live daemon keeps the per-output kernel).
"""

from __future__ import annotations

import numpy as np

from bridge.audio import fft as _fft

#: FFT length of the integer-ratio kernel (per polyphase branch): 4096 was the fastest of 4096-32768
#: on a 207 s track (pyFFTW, 0.06 s against 0.07-0.09 s for the longer ones).
FFT_SIZE = 4096
#: Periods of ``L`` outputs per block of the rational kernel (64 x 147 outputs = 0.43 s at 22,050 Hz).
PERIODS = 64
#: Outputs per matrix product in the rational kernel: the largest divisor of ``L`` up to this (21 for
#: 147 phases: each product's window spans ~290 inputs, 84 % of them taps, and stays under the period
#: of ``M`` = 320 inputs, so BLAS reads the windows in place). Measured on a 207 s track at 48 kHz:
#: groups of 21 0.20 s, of 49 0.31 s, of 147 0.28 s, of 7 0.44 s.
GROUP = 32


class FFTBlocks:
    """Integer ratio ``M``: outputs ``k`` in blocks of ``outputs`` = ``FFT_SIZE - kp + 1``, from the
    inputs ``k0 * M - h + 1`` on (``span`` of them, ``advance`` = ``outputs * M`` apart)."""

    def __init__(self, M: int, h: int, bank: np.ndarray, n: int = FFT_SIZE):
        taps = np.zeros(-(-2 * h // M) * M)
        taps[:2 * h] = bank[0]
        kp = taps.size // M  # taps per polyphase branch
        branches = taps.reshape(kp, M).T[:, ::-1]  # branch p: taps p, p + M, ... reversed
        self.M, self.n, self.kp = M, n, kp
        self.outputs = n - kp + 1
        self.advance = self.outputs * M
        self.span = n * M
        self._filters = np.fft.rfft(branches, n, axis=1)
        if _fft._pyfftw is not None:
            pyfftw = _fft._pyfftw
            self._src = pyfftw.zeros_aligned((M, n), dtype="float64")
            self._spec = pyfftw.empty_aligned((M, n // 2 + 1), dtype="complex128")
            self._sum = pyfftw.empty_aligned(n // 2 + 1, dtype="complex128")
            self._dst = pyfftw.empty_aligned(n, dtype="float64")
            flags = ("FFTW_ESTIMATE",)
            self._forward = pyfftw.FFTW(self._src, self._spec, axes=(1,), flags=flags)
            self._inverse = pyfftw.FFTW(self._sum, self._dst, direction="FFTW_BACKWARD",
                                        flags=flags)  # unnormalised by FFTW; scaled by pyFFTW
        else:  # pragma: no cover - machines without pyFFTW
            self._forward = None

    def __call__(self, segment: np.ndarray) -> np.ndarray:
        """``outputs`` outputs from ``span`` inputs (a fresh array)."""
        M, kp = self.M, self.kp
        branches = segment.reshape(self.n, M).T  # branch p: inputs p, p + M, ...
        if self._forward is None:  # pragma: no cover - machines without pyFFTW
            spec = np.fft.rfft(branches, axis=1)
            spec *= self._filters
            return np.fft.irfft(spec.sum(axis=0), self.n)[kp - 1:].copy()
        self._src[:] = branches
        self._forward()
        spec = self._spec
        np.multiply(spec[0], self._filters[0], out=self._sum)
        for p in range(1, M):
            spec[p] *= self._filters[p]
            self._sum += spec[p]
        self._inverse()
        return self._dst[kp - 1:].copy()


class MatrixBlocks:
    """Ratio ``L/M`` (``L > 1``): outputs in blocks of ``PERIODS`` periods of ``L``; block inputs
    from ``k0 * M / L - h + 1`` on, ``advance`` = ``PERIODS * M`` apart."""

    def __init__(self, L: int, M: int, h: int, rows: np.ndarray, periods: int = PERIODS):
        g = max(d for d in range(1, min(L, GROUP) + 1) if L % d == 0)
        taps = 2 * h
        self.L, self.M, self.periods = L, M, periods
        self.outputs = L * periods
        self.advance = M * periods
        self._groups = []  # (first output of the group in the period, first input, (span, g) taps)
        for i0 in range(0, L, g):
            starts = (np.arange(i0, i0 + g) * M) // L  # + (-h + 1): first tap, from the block's
            lo = int(starts[0])
            matrix = np.zeros((int(starts[-1]) - lo + taps, g))
            for j, s in enumerate(starts - lo):
                matrix[s:s + taps, j] = rows[i0 + j]
            self._groups.append((i0, lo, matrix))
        self.span = max(lo + m.shape[0] for _, lo, m in self._groups) + (periods - 1) * M

    def __call__(self, segment: np.ndarray) -> np.ndarray:
        from bridge.audio.blas import one_blas_thread

        y = np.empty((self.periods, self.L))
        with one_blas_thread():  # one thread: the same bits on any machine, no spinning workers
            for i0, lo, matrix in self._groups:
                windows = np.lib.stride_tricks.as_strided(
                    segment[lo:], (self.periods, matrix.shape[0]), (8 * self.M, 8),
                    writeable=False)
                np.matmul(windows, matrix, out=y[:, i0:i0 + matrix.shape[1]])
        return y.reshape(-1)
