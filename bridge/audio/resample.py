"""`StreamResampler`: device or file rate → the spec rate, with output for every input block.

Why this design (issue 9). soxr "HQ", used before, is a DFT-based resampler: its stream releases
output in chunks of ~736-830 samples, which held the live audio back 20-40 ms (a click in 10 ms
blocks completed its 60 Hz frame 30/50/60 ms later, median/p95/max). This is a windowed-sinc
polyphase FIR written with numpy: output sample ``k`` is the band-limited signal at time
``k / out_rate``, computed from the input samples around it as soon as the last of them has
arrived. Nothing is computed in chunks, so

* every input block gives the output it completes (no hold-back beyond the filter's half-length);
* the output does not depend on how the input is split into blocks: each output sample is one dot
  product of the same input samples with the same coefficients, by the same numpy kernel, whatever
  the block (bit-identical, tested over random splits with hypothesis);
* the filter delay is compensated by construction (an impulse stays at its time, as with soxr): the
  *latency* is the half-length, ``delay_samples`` input samples (2.5 ms at 44.1 and 48 kHz, 3.5 ms
  at 16 kHz), reported as :attr:`latency_samples` in output samples.

The filter, chosen for the 64-band mel features (fmax = 11,025 Hz at 22,050 Hz): linear phase (its
delay compensates exactly, so output times are input times; a minimum-phase version of the same
magnitude response would come out earlier but with a frequency-dependent delay, and was not built
or measured here), Kaiser window, passband flat to 91% of the band
(10.03 kHz at 22,050 Hz output), stop band from 100% (11,025 Hz) at -80 dB: nothing above 11,025 Hz folds into the
features except 80 dB under its own level (measured on sines: -89 dB and lower, tested < -77 dB).
The band is ``min(in_rate, out_rate) / 2``. What the mel bands see: bands 0-61 (up to 9.9 kHz) the
signal itself (ripple < 0.01 dB); band 62 (9.4-10.5 kHz) the signal with its upper slope partly
attenuated; band 63 (9.9-11.0 kHz, peak 10.46 kHz) the lower half of its triangle (the response is
-6 dB at 10.53 kHz). soxr HQ's band is a little wider (flat to 10.3 kHz, -9 dB at 10.6 kHz) at the
price of a longer filter (more delay): measured on music at 60 fps, bands 0-61 differ from the soxr
HQ path by <= 0.002 dB p99, band 62 by 0.05 / 0.20 dB (p50 / p99), band 63 by 0.57 / 1.04 dB
(README "How it works", Resampling).

Cost: ``out_rate * 2 * delay_samples`` multiply-adds per second (~240 taps at 44.1/48 kHz). An
integer ratio (44.1 or 88.2 kHz → 22,050 Hz) reads the input through a strided view, one
``einsum``; other ratios gather each output's input window first (L phases of coefficients, e.g.
147 at 48 kHz). Equal rates pass the blocks through untouched (zero latency). No scipy: the
coefficients are computed here with numpy (``np.i0`` for the Kaiser window, ``np.sinc``), once per
rate pair (8-13 ms for an integer ratio, 50-220 ms for 147 or 441 phases; cached).

Measured per 10 ms block (thread CPU, median / p95, load average ~10): 44.1 kHz 29 / 65 µs,
48 kHz 81 / 143 µs, against soxr HQ's 5 / 15 and 5.5 / 21 µs in the same run. The 48 kHz cost (the
gather) is the part to improve; the arithmetic must stay one fixed kernel per output sample to keep
the bit-identity across splits (a BLAS product rounds differently for different shapes: tried).
Since 2026-12-02 the gather and the einsum run in chunks of :data:`CHUNK` outputs (a split like any
other: the same bits): at real time, after 10 ms pauses, 334-362 µs per 48 kHz block against
393-435 (``python -m tests.bench.resample_cost``), a whole second in one call 13 ms against 32.

Whole files (``whole_file=True``: what ``load_audio``, ``extract_file`` and the dataset builder
use; never the live daemon). The per-output kernel was the largest stage of a whole file (0.37-0.41
s of thread CPU for a 207 s track at 44.1 kHz, 1.3 s at 48 kHz), so whole files run the *same
filter* through a second kernel (``bridge/audio/resample_blocks.py``): FFT overlap-save for an
integer ratio, BLAS products over the periods of ``L`` outputs otherwise, on a fixed grid of blocks
(0.06 s and 0.2 s for the same track). Its output is bit-identical for any split of its own input
but rounds differently from the live kernel: <= 2e-15 on real music (tested <= 1e-12), features
within 1e-9 (measured <= 1.6e-11 dB) and the shipped models' outputs within 1e-6 (measured: equal,
float32 inputs), so models trained on whole-file features need no retrain for the live path.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from bridge.errors import ConfigError

_F64 = np.dtype(np.float64)
#: The filter: passband edge and stop band edge as fractions of the band (min rate / 2), and the
#: stop band attenuation in dB.
PASS_FRACTION = 0.91
STOP_FRACTION = 1.0
ATTENUATION_DB = 80.0
#: Outputs computed per gather + einsum (non-integer ratios): small enough that one chunk's
#: windows (CHUNK x 2h float64, 2h ~ 244) stay in the core's cache.
CHUNK = 64


@lru_cache(maxsize=16)
def design(in_rate: int, out_rate: int):
    """``(L, M, h, bank)``: out/in = L/M in lowest terms, half-length ``h`` input samples, and the
    ``(L, 2h)`` coefficients; row ``r`` is for outputs whose centre lies ``r / L`` of an input sample
    past an input sample ``n0``, applied to inputs ``n0 - h + 1 .. n0 + h``."""
    g = math.gcd(in_rate, out_rate)
    L, M = out_rate // g, in_rate // g
    band = min(in_rate, out_rate) / 2.0
    f_pass, f_stop = PASS_FRACTION * band, STOP_FRACTION * band
    width = 2 * math.pi * (f_stop - f_pass) / in_rate  # transition, radians per input sample
    n_taps = (ATTENUATION_DB - 8.0) / (2.285 * width) + 1  # Kaiser's estimate
    h = max(2, math.ceil(n_taps / 2))
    beta = 0.1102 * (ATTENUATION_DB - 8.7)  # Kaiser's beta for > 50 dB
    cutoff = (f_pass + f_stop) / 2 / in_rate  # cycles per input sample
    u = (np.arange(-h + 1, h + 1)[None, :] - np.arange(L)[:, None] / L)  # tap - centre
    window = np.i0(beta * np.sqrt(np.clip(1.0 - (u / h) ** 2, 0.0, None))) / np.i0(beta)
    bank = 2 * cutoff * np.sinc(2 * cutoff * u) * window
    bank /= bank.sum(axis=1, keepdims=True)  # exact unit gain at DC for every phase
    bank.flags.writeable = False
    return L, M, h, bank


class StreamResampler:
    """``process(block) -> resampled block`` (mono float64); ``flush()`` ends the stream.

    Output sample ``k`` is the signal at ``k / out_rate`` seconds after input sample 0; a stream of
    ``n`` input samples gives ``ceil(n * out_rate / in_rate)`` outputs (the times it spans).
    ``whole_file=True`` computes them with the whole-file kernel (module docstring): outputs are
    released a block (~0.2-0.4 s) at a time, so :meth:`inputs_for` and :attr:`latency_samples` do
    not describe it; the live path keeps the default.
    """

    def __init__(self, in_rate: float, out_rate: float, *, whole_file: bool = False):
        if not (in_rate > 0 and out_rate > 0):
            raise ConfigError(f"resampler rates must be positive; got {in_rate} -> {out_rate} Hz")
        if in_rate != int(in_rate) or out_rate != int(out_rate):
            raise ConfigError(f"resampler rates must be whole numbers of Hz; got {in_rate:g} -> "
                              f"{out_rate:g} Hz")
        self.in_rate = float(in_rate)
        self.out_rate = float(out_rate)
        if not self.passthrough:
            self._L, self._M, self._h, self._bank = design(int(in_rate), int(out_rate))
            # the coefficient rows in output order (output k has phase (k * M) % L): a run of
            # consecutive outputs is one slice of them (no copy on the live path). The table
            # goes on past row L - 1 with the first `chunk` rows again, so a chunk that wraps
            # round the phases is one slice, not two einsum calls (48 kHz: ~5 -> 4 calls per
            # 10 ms block, 44-46 -> 38-39 µs hot)
            self._chunk = chunk = min(self._L, CHUNK)
            phases = (np.arange(self._L + chunk) * self._M) % self._L
            self._wrapped = np.ascontiguousarray(self._bank[phases])
            self._rows = self._wrapped[:self._L]  # the L phases in output order (a view)
            self._offsets = (np.arange(16 * self._L, dtype=np.int64) * self._M) // self._L
        self.whole_file = bool(whole_file) and not self.passthrough
        if self.whole_file:  # bridge/audio/resample_blocks.py: the same filter on a block grid
            from bridge.audio.resample_blocks import FFTBlocks, MatrixBlocks

            self._blocks = (FFTBlocks(self._M, self._h, self._bank) if self._L == 1 else
                            MatrixBlocks(self._L, self._M, self._h, self._rows))
        self.reset()

    @property
    def passthrough(self) -> bool:
        return self.in_rate == self.out_rate

    @property
    def delay_samples(self) -> int:
        """Input samples an output waits for after its own time: the filter's half-length."""
        return 0 if self.passthrough else self._h

    @property
    def delay_seconds(self) -> float:
        return self.delay_samples / self.in_rate

    def reset(self) -> None:
        self.samples_in = 0
        self.samples_out = 0
        self._finished = False
        if not self.passthrough:
            h = self._h
            # input samples from absolute index self._first on; h - 1 zeros before the stream
            self._buf = np.zeros(h - 1)
            self._first = -(h - 1)

    def process(self, block, *, last: bool = False) -> np.ndarray:
        if type(block) is np.ndarray and block.dtype is _F64 and block.ndim == 1:
            x = block
        else:
            x = np.ascontiguousarray(block, dtype=np.float64).reshape(-1)
        if self._finished:
            raise RuntimeError("StreamResampler: process() after flush(); call reset() first")
        self.samples_in += x.size
        if self.passthrough:
            self.samples_out += x.size
            self._finished = last
            return x
        L, M, h = self._L, self._M, self._h
        n_in = self.samples_in
        if last:
            end = -(-n_in * L // M)  # ceil: every output time inside the input's span
            x = np.concatenate((x, np.zeros(h)))
            self._finished = True
        else:
            end = max(0, ((n_in - h) * L + M - 1) // M)  # outputs whose inputs have all arrived
        buf = np.concatenate((self._buf, x)) if self._buf.size else x
        if self.whole_file:
            return self._whole_blocks(buf, x, end, last)
        k0 = self.samples_out
        if end <= k0:
            self._buf = buf if buf is not x else x.copy()
            return np.zeros(0)
        y = self._each(buf, k0, end - k0)
        keep = (end * M) // L - h + 1 - self._first  # from the next output's first tap on
        self.samples_out = end
        self._buf = buf[keep:].copy()
        self._first += keep
        return y

    def _whole_blocks(self, buf: np.ndarray, x: np.ndarray, end: int, last: bool) -> np.ndarray:
        """``whole_file=True``: the outputs of every grid block whose inputs have all arrived (all
        blocks up to ``end`` when ``last``; their inputs past the stream are zeros), each block by
        the same kernel from the same inputs wherever the stream's blocks fall."""
        kernel = self._blocks
        G, advance, span = kernel.outputs, kernel.advance, kernel.span
        k0 = self.samples_out  # a multiple of G until the last block
        first = (k0 // G) * advance - self._h + 1  # absolute index of the next block's first input
        skip = first - self._first
        if last:
            n_blocks = -(-(end - k0) // G)
            need = skip + (n_blocks - 1) * advance + span
            if buf.size < need:
                buf = np.concatenate((buf, np.zeros(need - buf.size)))
        else:
            n_blocks = max(0, (buf.size - skip - span) // advance + 1)
        if not buf.flags.c_contiguous:
            buf = buf.copy()
        y = np.concatenate([kernel(buf[skip + b * advance:skip + b * advance + span])
                            for b in range(n_blocks)]) if n_blocks else np.zeros(0)
        if last:
            y = y[:end - k0]
        self.samples_out = k0 + y.size
        keep = skip + n_blocks * advance  # the next block's first input on
        self._buf = buf[keep:].copy()
        self._first += keep
        return y

    def _each(self, buf: np.ndarray, k0: int, n: int) -> np.ndarray:
        """Outputs ``k0 .. k0 + n - 1``: each one the dot product of its ``2h`` input samples with
        its phase's coefficients, by one ``einsum`` kernel per row whatever ``n`` (bit-identical
        for any split; a BLAS matrix product would round differently for different shapes)."""
        L, M, h = self._L, self._M, self._h
        taps = 2 * h
        if not buf.flags.c_contiguous:
            buf = buf.copy()
        start = (k0 * M) // L - h + 1 - self._first  # buf index of output k0's first tap
        if L == 1:  # an integer ratio (44.1, 88.2 kHz): output i's taps start at start + i * M
            windows = np.ndarray((n, taps), _F64, buffer=buf, offset=8 * start,
                                 strides=(8 * M, 8))  # a view (overlapping rows), no copy
            return np.einsum("ij,j->i", windows, self._bank[0])
        y = np.empty(n)
        every = np.ndarray((buf.size - taps + 1, taps), _F64, buffer=buf, strides=(8, 8))
        r0 = k0 % L
        offsets = self._offsets  # (k * M) // L for k = r0 .. : the first taps, from one table
        if r0 + n <= offsets.size:
            starts = offsets[r0:r0 + n] + (start - offsets[r0])
        else:  # a block longer than the table (> ~15 * L outputs): the formula itself
            k = np.arange(k0, k0 + n, dtype=np.int64)
            starts = (k * M) // L - h + 1 - self._first
        # chunks of at most `chunk` outputs: one chunk's gathered windows (~125 KB) stay in the
        # core's cache where a 10 ms block's (~0.4 MB, and as much again of coefficient rows
        # gathered when it spans more than L outputs) did not; each chunk's coefficient rows are
        # a slice of _wrapped (the phases in output order, the first `chunk` again after the
        # last). A chunk is a split like any other: the same kernel per row.
        rows, chunk = self._wrapped, self._chunk
        a = 0
        while a < n:
            p = (r0 + a) % L
            b = min(n, a + chunk)  # rows p .. p + b - a - 1 of the wrapped table
            np.einsum("ij,ij->i", every[starts[a:b]], rows[p:p + b - a], out=y[a:b])
            a = b
        return y

    def inputs_for(self, outputs: int) -> int:
        """Input samples of the stream after which :meth:`process` has given ``outputs`` outputs
        (the engine sleeps until its next frame's last sample can be out: bridge.sources.base)."""
        if self.passthrough or outputs <= 0:
            return max(0, outputs)
        L, M, h = self._L, self._M, self._h
        # the smallest n with ((n - h) * L + M - 1) // M >= outputs (process()'s ``end``)
        return h + -(-(outputs * M - M + 1) // L)

    def flush(self) -> np.ndarray:
        """Return the outputs still owed (their taps past the end are zeros); ends the stream."""
        return self.process(np.zeros(0), last=True)

    @property
    def latency_samples(self) -> float:
        """Output samples owed for the input received so far (the filter's half-length, now)."""
        return self.samples_in * self.out_rate / self.in_rate - self.samples_out
