"""Signals for the classic-signal tests: real extractor frames of synthetic audio with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from bridge.audio.demo import DemoMusic
from bridge.audio.features import FeatureExtractor
from bridge.audio.spec import FeatureSpec

SPEC = FeatureSpec(fps=60)
SR = SPEC.sample_rate


def frames_of(y: np.ndarray, spec: FeatureSpec = SPEC) -> np.ndarray:
    """Extractor frames of ``y`` (the live path, fed as one block)."""
    return FeatureExtractor(spec).process(np.asarray(y, dtype=np.float64))


def tone(freq: float, seconds: float, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return amp * np.sin(2 * np.pi * freq * t)


def kick(seconds: float = 0.3, amp: float = 0.8) -> np.ndarray:
    """A synthesized kick drum: a sine sweeping down from ~110 Hz to 45 Hz, decaying."""
    t = np.arange(int(seconds * SR)) / SR
    phase = 2 * np.pi * (45.0 * t + 65.0 * (1 - np.exp(-t * 30)) / 30)
    return amp * np.sin(phase) * np.exp(-t * 9.0)


def snare(seconds: float = 0.25, amp: float = 0.5, seed: int = 0) -> np.ndarray:
    """A synthesized snare: a white-noise burst plus a 190 Hz body, decaying fast."""
    t = np.arange(int(seconds * SR)) / SR
    noise = np.random.default_rng(seed).standard_normal(t.size)
    return amp * (0.7 * noise + 0.3 * np.sin(2 * np.pi * 190 * t)) * np.exp(-t * 20.0)


def place(total_seconds: float, events: list[tuple[float, np.ndarray]]) -> np.ndarray:
    y = np.zeros(int(total_seconds * SR))
    for start, sound in events:
        i = int(round(start * SR))
        n = min(sound.size, y.size - i)
        y[i:i + n] += sound[:n]
    return y


def frame_of_time(seconds: float, spec: FeatureSpec = SPEC) -> int:
    """Index of the first frame whose window contains stream time ``seconds``."""
    return max(0, int(np.ceil((seconds * spec.sample_rate - spec.n_fft + 1) / spec.hop_length)))


@pytest.fixture(scope="session")
def demo_frames() -> np.ndarray:
    """20 s of the built-in 124 BPM demo groove as 60 fps frames."""
    return frames_of(DemoMusic(SR).read(20 * SR))
