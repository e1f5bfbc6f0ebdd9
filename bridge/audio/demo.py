"""`DemoMusic`: a built-in, deterministic groove so the bridge has something to play with.

Why synthetic: ``make run`` must show the pipeline moving on a machine with no sound card and no
music files (CI, a fresh gallery PC). The groove has what VJ signals react to: a four-on-the-floor
kick, a backbeat snare, off-beat hats, a bass line and a pad whose brightness swells over 16 bars,
at 124 BPM. ``read(n)`` returns the next ``n`` samples; the signal is a pure function of the sample
index, so any block size gives the same audio.
"""

from __future__ import annotations

import numpy as np


class DemoMusic:
    """Endless synthetic music at ``sample_rate`` (mono float64 in [-1, 1])."""

    BPM = 124.0
    BASS = (55.0, 55.0, 65.41, 49.0)  # A1 A1 C2 G1, one note per bar

    def __init__(self, sample_rate: int = 22050, *, seed: int = 7):
        self.sample_rate = int(sample_rate)
        self.position = 0
        rng = np.random.default_rng(seed)
        self._noise = rng.standard_normal(self.sample_rate)  # 1 s of noise, looped, for hats/snare

    def reset(self) -> None:
        self.position = 0

    def read(self, n: int) -> np.ndarray:
        idx = np.arange(self.position, self.position + int(n))
        self.position += int(n)
        return self.render(idx)

    def render(self, idx: np.ndarray) -> np.ndarray:
        # Written for the live demo's CPU (it renders 1 s at a time on the daemon's source thread):
        # the five decays are powers of one exp and each pad tone's third harmonic is
        # sin(3x) = sin x (3 - 4 sin^2 x): 3.6 of 14.4 ms per second of audio saved, samples equal
        # to the direct formulas within 2e-12 (tests/audio/test_demo.py).
        sr = self.sample_rate
        t = idx / sr
        beat = t * self.BPM / 60.0
        in_beat = (beat % 1.0) * 60.0 / self.BPM  # seconds since the last beat
        bar = (beat // 4).astype(int)
        noise = self._noise[idx % self._noise.size]
        noise_before = self._noise[(idx - 1) % self._noise.size]
        e3 = np.exp(-in_beat * 3.0)
        e6 = e3 * e3
        e9 = e6 * e3
        e18 = e9 * e9
        # Kick: pitch-dropping sine on every beat.
        kick_phase = 2 * np.pi * (45.0 * in_beat + 60.0 * (1 - e18 * e9 * e3) / 30)  # exp(-30 x)
        kick = np.sin(kick_phase) * e9
        # Snare on beats 2 and 4: noise burst plus a body tone.
        backbeat = (beat.astype(int) % 2) == 1
        snare = backbeat * (0.6 * noise + 0.4 * np.sin(2 * np.pi * 190 * in_beat)) * e18
        # Hats on the off-beats: high-passed noise (first difference), short decay.
        off = ((beat + 0.5) % 1.0) * 60.0 / self.BPM
        hat = (noise - noise_before) * np.exp(-off * 60.0) * 0.35
        # Bass: saw-ish tone following the bar's root, pumping against the kick.
        root = np.asarray(self.BASS)[bar % len(self.BASS)]
        phase = (t * root) % 1.0
        bass = (2 * phase - 1) * 0.3 * (1 - e6)
        # Pad: A minor triad whose brightness swells over 16 bars.
        swell = 0.5 - 0.5 * np.cos(2 * np.pi * (beat / 64.0))
        pad = 0.0
        for f in (220.0, 261.63, 329.63):
            s1 = np.sin(2 * np.pi * f * t)
            pad = pad + s1 + swell * 0.3 * (s1 * (3.0 - 4.0 * s1 * s1))
        pad = pad * 0.06
        return np.tanh(0.8 * kick + 0.5 * snare + hat + bass + pad) * 0.7
