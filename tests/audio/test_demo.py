"""The built-in demo groove is deterministic, block-size independent and actually grooves."""

import numpy as np

from bridge import FeatureExtractor, FeatureSpec
from bridge.audio.demo import DemoMusic


def test_block_size_independent():
    whole = DemoMusic(22050).read(22050 * 3)
    demo, parts, rng = DemoMusic(22050), [], np.random.default_rng(0)
    while sum(p.size for p in parts) < whole.size:
        parts.append(demo.read(int(rng.integers(1, 4000))))
    assert np.array_equal(np.concatenate(parts)[: whole.size], whole)
    assert np.abs(whole).max() <= 1.0


def test_onsets_pulse_at_the_tempo():
    spec = FeatureSpec(fps=60)
    frames = FeatureExtractor(spec).process(DemoMusic(22050).read(22050 * 16))
    onset = frames[:, 65] - frames[:, 65].mean()
    lags = np.arange(int(0.3 * spec.frame_rate), int(1.2 * spec.frame_rate))
    acf = np.array([np.dot(onset[:-lag], onset[lag:]) for lag in lags])
    period = lags[np.argmax(acf)] / spec.frame_rate
    beat = 60 / DemoMusic.BPM
    assert min(abs(period - beat), abs(period - 2 * beat)) < 0.02, period
