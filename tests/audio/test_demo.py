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


def direct_render(demo: DemoMusic, idx: np.ndarray) -> np.ndarray:
    """The groove written as its formulas, one exp and one sin per term (what render() computes
    with shared decays and sin(3x) from sin(x))."""
    sr, bpm = demo.sample_rate, demo.BPM
    t = idx / sr
    beat = t * bpm / 60.0
    in_beat = (beat % 1.0) * 60.0 / bpm
    bar = (beat // 4).astype(int)
    noise = demo._noise[idx % demo._noise.size]
    noise_before = demo._noise[(idx - 1) % demo._noise.size]
    kick = np.sin(2 * np.pi * (45.0 * in_beat + 60.0 * (1 - np.exp(-in_beat * 30)) / 30)) \
        * np.exp(-in_beat * 9.0)
    backbeat = (beat.astype(int) % 2) == 1
    snare = backbeat * (0.6 * noise + 0.4 * np.sin(2 * np.pi * 190 * in_beat)) \
        * np.exp(-in_beat * 18)
    off = ((beat + 0.5) % 1.0) * 60.0 / bpm
    hat = (noise - noise_before) * np.exp(-off * 60.0) * 0.35
    root = np.asarray(demo.BASS)[bar % len(demo.BASS)]
    bass = (2 * ((t * root) % 1.0) - 1) * 0.3 * (1 - np.exp(-in_beat * 6))
    swell = 0.5 - 0.5 * np.cos(2 * np.pi * (beat / 64.0))
    pad = sum(np.sin(2 * np.pi * f * t) + swell * 0.3 * np.sin(2 * np.pi * 3 * f * t)
              for f in (220.0, 261.63, 329.63)) * 0.06
    return np.tanh(0.8 * kick + 0.5 * snare + hat + bass + pad) * 0.7


def test_the_fast_render_equals_the_direct_formulas():
    demo = DemoMusic(22050)
    idx = np.arange(0, 22050 * 40, 7)  # 40 s, every 7th sample: every bar, beat and swell phase
    got, want = demo.render(idx), direct_render(demo, idx)
    assert np.abs(got - want).max() < 1e-9
    assert np.abs(want).max() > 0.5  # it is music, not silence
