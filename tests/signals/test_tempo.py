"""The tempo tracker on real click tracks (librosa.clicks) and on the 124 BPM demo groove."""

import librosa
import numpy as np
import pytest

from bridge.audio.demo import DemoMusic
from bridge.signals import TempoTracker
from tests.signals.conftest import SPEC, SR, frames_of

DURATION = 16.0
SETTLED = 8.0  # seconds after which bpm and beats are checked


def _check(out: np.ndarray, bpm: float, first_beat: float) -> None:
    t = SPEC.frame_end_times(len(out))
    late = t >= SETTLED
    # bpm within +-2 of the truth on every frame after 8 s
    assert np.all(np.abs(out[late, 1] - bpm) <= 2.0), (out[late, 1].min(), out[late, 1].max())
    assert out[late, 2].min() > 0.35  # confident
    beats = t[(out[:, 0] > 0) & late]
    truth = first_beat + np.arange(0, DURATION, 60.0 / bpm)
    truth = truth[(truth >= SETTLED + 0.05) & (truth <= t[-1] - 0.05)]
    # every true beat has a predicted beat within 50 ms, and there are no extra beats
    err = np.array([np.min(np.abs(beats - b)) for b in truth])
    assert err.max() < 0.050, err.max()
    assert abs(len(beats) - len(truth)) <= 1
    # beatphase ramps 0 -> 1 once per beat
    phase = out[late, 3]
    assert phase.min() >= 0 and phase.max() <= 1
    wraps = np.count_nonzero(np.diff(phase) < -0.5)
    assert abs(wraps - len(truth)) <= 1


@pytest.mark.parametrize("bpm", [90.0, 124.0, 150.0])
def test_click_track(bpm):
    first = 0.3
    y = librosa.clicks(times=np.arange(first, DURATION, 60.0 / bpm), sr=SR,
                       length=int(DURATION * SR))
    out = TempoTracker(SPEC).process(frames_of(y))
    _check(out, bpm, first)


def test_demo_groove_at_124_bpm():
    out = TempoTracker(SPEC).process(frames_of(DemoMusic(SR).read(int(DURATION * SR))))
    _check(out, DemoMusic.BPM, 0.0)


def test_no_tempo_and_no_beats_in_silence_or_noise():
    silent = TempoTracker(SPEC).process(frames_of(np.zeros(10 * SR)))
    assert not silent.any()
    noise = 0.1 * np.random.default_rng(4).standard_normal(12 * SR)
    out = TempoTracker(SPEC).process(frames_of(noise))
    assert out[:, 0].sum() == 0  # no beats without a beat
    assert out[:, 2].max() < 0.35


def test_bpm_is_zero_until_warmup_then_locks_early():
    y = librosa.clicks(times=np.arange(0.3, 8, 0.5), sr=SR, length=8 * SR)
    out = TempoTracker(SPEC).process(frames_of(y))
    t = SPEC.frame_end_times(len(out))
    assert np.all(out[t < 3.0, 1] == 0)
    assert np.all(np.abs(out[t > 4.0, 1] - 120.0) < 1.0)


def test_tempo_change_is_followed():
    first = librosa.clicks(times=np.arange(0.3, 12, 60 / 100), sr=SR, length=12 * SR)
    second = librosa.clicks(times=np.arange(0.0, 14, 60 / 128), sr=SR, length=14 * SR)
    out = TempoTracker(SPEC).process(frames_of(np.concatenate((first, second))))
    t = SPEC.frame_end_times(len(out))
    assert abs(out[np.searchsorted(t, 11.5), 1] - 100) < 1
    assert abs(out[-1, 1] - 128) < 1  # within 14 s of the change (about 2 x memory)
