"""The stimulus and its detection at the reference: a WAV of short noise bursts, found again by
thresholding the reference capture.

Why noise bursts: broadband, so every detector (spectral flux, HFC, the snare band) sees them, with
a sharp first sample to time from. Why 0.5 s apart: longer than any detector's refractory period
and than any latency we expect, so a click and its detections pair up without ambiguity. Why a
-60 dBFS noise floor between them: aubio's onset drops a detection when the hop that confirms it is
below its -70 dB silence gate, and its peak picker confirms a peak 1-3 hops after a 5 ms burst has
ended, so on digital silence it never fires (measured: 0 of 8 clicks; with the floor 8 of 8). A
real input is never digital silence either. The floor's peaks (~0.005) stay 20 dB under the
reference's click threshold (0.05).
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

RATE = 48000
LEAD_IN = 1.0  # s of silence before the first click (PulseAudio/paplay start-up)
TAIL = 1.0  # s after the last click: every detector has time to fire


def click_track(clicks: int, *, spacing: float = 0.5, burst: float = 0.005,
                amplitude: float = 0.5, floor_db: float = -60.0, seed: int = 9) -> np.ndarray:
    """``clicks`` bursts of uniform noise (``burst`` s, peak ``amplitude``) ``spacing`` s apart,
    over Gaussian noise at ``floor_db`` dBFS RMS."""
    rng = np.random.default_rng(seed)
    step, n_burst = int(round(spacing * RATE)), int(round(burst * RATE))
    lead = int(LEAD_IN * RATE)
    n = lead + (clicks - 1) * step + n_burst + int(TAIL * RATE)
    y = rng.standard_normal(n) * 10 ** (floor_db / 20)
    for k in range(clicks):
        noise = rng.uniform(-amplitude, amplitude, n_burst)
        noise[0] = amplitude  # the burst starts on its first sample
        y[lead + k * step:lead + k * step + n_burst] = noise
    return y


def write_wav(path: Path, y: np.ndarray) -> Path:
    """16-bit stereo (both channels equal) at 48 kHz, the sink's own format: no resampling."""
    pcm = np.clip(np.round(y * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.repeat(pcm[:, None], 2, axis=1).tobytes())
    return path


def find_clicks(samples: np.ndarray, *, threshold: float = 0.05,
                refractory: float = 0.25) -> np.ndarray:
    """Sample index of each click's first sample above ``threshold`` in a capture; later samples
    within ``refractory`` s belong to the same click."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if loud.size == 0:
        return loud
    keep = np.concatenate(([True], np.diff(loud) > refractory * RATE))
    return loud[keep]
