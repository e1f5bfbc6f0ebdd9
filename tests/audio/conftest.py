"""Signals for the extractor tests: real music excerpts (tests/data/music) and synthetic stress cases."""

from __future__ import annotations

import numpy as np
import pytest

from bridge import load_audio
from tests.conftest import MUSIC

SR = 22050
FPS_ALL = (1, 2, 4, 8, 16, 30, 60)


def synthetic(name: str, seconds: float = 6.0) -> np.ndarray:
    n = int(seconds * SR)
    t = np.arange(n) / SR
    if name == "silence":
        return np.zeros(n)
    if name == "clicks":  # unit impulses every 0.37 s, plus a few single-sample spikes of -1
        y = np.zeros(n)
        y[(np.arange(0, seconds, 0.37) * SR).astype(int)] = 1.0
        y[(np.arange(0.11, seconds, 1.3) * SR).astype(int)] = -1.0
        return y
    if name == "sweep":  # exponential sine sweep 20 Hz -> 11 kHz, full scale
        f0, f1 = 20.0, 11000.0
        k = np.log(f1 / f0) / seconds
        return np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1) / k)
    if name == "noise":  # full-scale uniform noise
        return np.random.default_rng(3).uniform(-1.0, 1.0, n)
    if name == "quiet-then-loud":  # silence, a -90 dB tone, then full scale: dynamic-range trap
        y = np.zeros(n)
        y[n // 3:2 * n // 3] = 10 ** (-90 / 20) * np.sin(2 * np.pi * 440 * t[n // 3:2 * n // 3])
        y[2 * n // 3:] = np.sin(2 * np.pi * 3000 * t[2 * n // 3:])
        return y
    raise KeyError(name)


SYNTHETIC = ("silence", "clicks", "sweep", "noise", "quiet-then-loud")
MUSIC_FILES = sorted(MUSIC.glob("*.ogg")) + sorted(MUSIC.glob("*.opus"))


@pytest.fixture(scope="session")
def music() -> dict[str, np.ndarray]:
    """Each excerpt decoded, downmixed and resampled to 22,050 Hz (float64)."""
    assert len(MUSIC_FILES) >= 3, f"test music missing in {MUSIC}: run tools/fetch-test-music.sh"
    return {p.name: load_audio(p, sample_rate=SR) for p in MUSIC_FILES}
