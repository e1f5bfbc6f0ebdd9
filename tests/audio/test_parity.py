"""The streaming extractor equals the librosa reference on real music and synthetic stress signals.

Required agreement: mel bands within 1e-3 dB, RMS within 1e-5 relative, onset within 1e-3, at 1, 2, 4,
8, 16, 30 and 60 frames per second.
"""

import numpy as np
import pytest

from bridge import FeatureExtractor, FeatureSpec
from bridge.audio.reference import librosa_features
from tests.audio.conftest import FPS_ALL, SYNTHETIC, synthetic


def assert_matches_librosa(y: np.ndarray, spec: FeatureSpec) -> None:
    ours = FeatureExtractor(spec).process(y)
    ref = librosa_features(y, spec)
    m = spec.n_mels
    assert ours.shape == ref.shape == (spec.n_frames_for(y.size), m + 2)
    mel_err = np.abs(ours[:, :m] - ref[:, :m]).max()
    assert mel_err <= 1e-3, f"mel dB differs by {mel_err}"
    rms_ref = ref[:, m]
    rms_err = np.abs(ours[:, m] - rms_ref) / np.maximum(rms_ref, 1e-12)
    rms_err[rms_ref == 0] = np.abs(ours[rms_ref == 0, m])  # exact zeros must stay zero
    assert rms_err.max() <= 1e-5, f"rms differs by {rms_err.max()} relative"
    onset_err = np.abs(ours[:, m + 1] - ref[:, m + 1]).max()
    assert onset_err <= 1e-3, f"onset differs by {onset_err}"


@pytest.mark.parametrize("fps", FPS_ALL)
def test_real_music(music, fps):
    spec = FeatureSpec(fps=fps)
    for name, y in music.items():
        assert_matches_librosa(y, spec)


@pytest.mark.parametrize("fps", FPS_ALL)
@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic(name, fps):
    assert_matches_librosa(synthetic(name), FeatureSpec(fps=fps))


def test_float32_input_matches_the_float64_reference(music):
    y = next(iter(music.values())).astype(np.float32)
    spec = FeatureSpec(fps=8)
    ours = FeatureExtractor(spec).process(y)
    ref = librosa_features(y.astype(np.float64), spec)
    assert np.abs(ours[:, :64] - ref[:, :64]).max() <= 1e-3


def test_other_spec_settings_match_too():
    y = synthetic("noise", 3.0) * 0.1 + synthetic("sweep", 3.0) * 0.5
    assert_matches_librosa(y, FeatureSpec(fps=20, n_mels=40, fmin=30.0, fmax=8000.0, mel_htk=True))


def test_features_show_what_they_measure():
    """Sanity beyond parity: silence is the dB floor, a full-scale sine has RMS 1/sqrt(2)."""
    spec = FeatureSpec(fps=8)
    silent = FeatureExtractor(spec).process(np.zeros(22050))
    assert np.all(silent[:, :64] == -100.0) and np.all(silent[:, 64:] == 0.0)
    t = np.arange(22050 * 2) / 22050
    tone = FeatureExtractor(spec).process(np.sin(2 * np.pi * 1000 * t))
    assert tone[:, 64] == pytest.approx(np.sqrt(0.5), rel=1e-3)
    band = np.argmax(tone[0, :64])
    assert 18 <= band <= 24  # 1 kHz sits just above the linear/log break of the Slaney mel scale
