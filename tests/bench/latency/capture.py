"""The benchmark's own PulseAudio clients: the time reference, and aubio's onset detector.

Why two separate low-latency streams of the sink's monitor, not one: each is an ordinary client, as
vjbridge is, so each sees the audio when PulseAudio delivers it to a client; neither waits for the
other. Every 64-frame block is stamped with ``time.perf_counter()`` the moment its callback runs;
that stamp is the only clock the benchmark compares (the OSC receiver uses the same clock).

The reference itself sits ~7-9 ms behind the earliest possible delivery (measured here before), so
latencies are relative to "what a good client sees", and a detector can in principle be a few ms
*ahead* of the reference (a negative latency), which the matching allows.
"""

from __future__ import annotations

import numpy as np

from tests.bench.latency.pulse import BenchError

RATE = 48000
BLOCK = 64


def pulse_device(sd) -> int:
    """Index of ALSA's ``pulse`` PCM (the PulseAudio plugin), the device a new user would pick."""
    for d in sd.query_devices():
        if d["name"] == "pulse" and d["max_input_channels"] > 0:
            return int(d["index"])
    raise BenchError("PortAudio lists no 'pulse' input: apt-get install libasound2-plugins")


class StampedCapture:
    """A 48 kHz mono capture in 64-frame blocks, each stamped on arrival. ``seconds`` bounds the
    buffer (preallocated: the callback only copies and appends)."""

    def __init__(self, sd, device: int, seconds: float):
        self.samples = np.zeros(int(seconds * RATE) + RATE, dtype=np.float32)
        self.starts: list[int] = []  # sample index of each block's first sample
        self.stamps: list[float] = []  # perf_counter() at each block's callback
        self.overflows = 0
        self.filled = 0
        self._stream = sd.InputStream(device=device, samplerate=RATE, blocksize=BLOCK, channels=1,
                                      dtype="float32", latency="low", callback=self._callback)
        self.latency = float(self._stream.latency)

    def _callback(self, indata, frames, time_info, status) -> None:
        from time import perf_counter

        now = perf_counter()
        if status.input_overflow:
            self.overflows += 1
        n = min(frames, self.samples.size - self.filled)
        self.samples[self.filled:self.filled + n] = indata[:n, 0]
        self.starts.append(self.filled)
        self.stamps.append(now)
        self.filled += n
        self.on_block(indata[:n, 0], now)

    def on_block(self, block: np.ndarray, stamp: float) -> None:
        """Hook for a detector fed by this stream (the reference does nothing more)."""

    def start(self) -> None:
        self._stream.start()

    def close(self) -> None:
        try:
            self._stream.abort()
        finally:
            self._stream.close()

    def block_intervals(self) -> np.ndarray:
        return np.diff(np.asarray(self.stamps))

    def arrival_of(self, sample_index: int) -> float:
        """Stamp of the block that holds ``sample_index``."""
        i = int(np.searchsorted(np.asarray(self.starts), sample_index, side="right")) - 1
        return self.stamps[max(i, 0)]


def require_aubio():
    try:
        import aubio
    except ImportError:
        raise BenchError("aubio is missing: pip install aubio-ledfx (upstream aubio has no "
                         "wheel for this Python)") from None
    return aubio


class AubioCapture(StampedCapture):
    """aubio's onset detector (``aubio.onset(method, 1024, 256, 48000)``) fed by its own stream:
    a detection is stamped with the arrival of the block that completed the hop that fired."""

    def __init__(self, sd, device: int, seconds: float, *, method: str = "default",
                 buf_size: int = 1024, hop: int = 256):
        aubio = require_aubio()
        self.method, self.buf_size, self.hop = method, buf_size, hop
        self._onset = aubio.onset(method, buf_size, hop, RATE)
        self._pending = np.zeros(0, dtype=aubio.float_type)
        self.detections: list[float] = []
        self.version = getattr(aubio, "version", "?")
        super().__init__(sd, device, seconds)

    def on_block(self, block: np.ndarray, stamp: float) -> None:
        pending = np.concatenate((self._pending, block))
        hop, used = self.hop, 0
        while pending.size - used >= hop:
            if self._onset(pending[used:used + hop])[0]:
                self.detections.append(stamp)
            used += hop
        self._pending = pending[used:]

    def describe(self) -> str:
        return (f"aubio {self.version} onset({self.method!r}, {self.buf_size}, {self.hop}, {RATE}) "
                f"threshold {self._onset.get_threshold():.3f}")
