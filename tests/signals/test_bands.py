"""Band levels (auto-gain), centroid and the rms/onset columns on signals with known answers."""

import math

import numpy as np
import pytest

from bridge.audio.demo import DemoMusic
from bridge.audio.spec import FeatureSpec
from bridge.errors import InputError
from bridge.signals import BandLayout, BandLevels, Centroid, Levels
from tests.signals.conftest import SPEC, SR, frames_of, tone


def _db_frames(n: int, low_db: float, spec: FeatureSpec = SPEC, rest_db: float = -100.0):
    """Hand-made frames: every mel band at ``rest_db`` except the low bands at ``low_db``."""
    x = np.full((n, spec.n_features), rest_db)
    x[:, spec.n_mels:] = 0.0
    x[:, :spec.n_mels][:, BandLayout(spec).masks["low"]] = low_db
    return x


def test_band_edges_are_where_the_docs_say():
    lay = BandLayout(SPEC)
    lo, hi = lay.band_hz("low")
    assert hi < 250 <= lay.band_hz("mid")[0] and lay.band_hz("mid")[1] < 2000
    assert lay.band_hz("high")[0] >= 2000 and lay.band_hz("high")[1] <= SPEC.fmax
    assert lay.masks["low"].sum() + lay.masks["mid"].sum() + lay.masks["high"].sum() == SPEC.n_mels


def test_a_low_tone_raises_low_not_high():
    bed = 0.01 * np.random.default_rng(1).standard_normal(8 * SR)
    y = bed.copy()
    y[5 * SR:6 * SR] += tone(100, 1.0, 0.3)
    b = BandLevels(SPEC).process(frames_of(y))
    t = SPEC.frame_end_times(len(b))
    before = b[(t > 4) & (t < 5)].mean(axis=0)
    during = b[(t > 5.2) & (t < 6.0)].mean(axis=0)
    assert during[0] > 0.95 > before[0] + 0.3  # low jumps far above its own average
    assert abs(during[2] - before[2]) < 0.05  # high does not move
    assert abs(during[1] - before[1]) < 0.1


def test_a_high_tone_raises_high_not_low():
    bed = 0.01 * np.random.default_rng(2).standard_normal(8 * SR)
    y = bed.copy()
    y[5 * SR:6 * SR] += tone(5000, 1.0, 0.3)
    b = BandLevels(SPEC).process(frames_of(y))
    t = SPEC.frame_end_times(len(b))
    before, during = b[(t > 4) & (t < 5)].mean(0), b[(t > 5.2) & (t < 6.0)].mean(0)
    assert during[2] > 0.95 and abs(during[0] - before[0]) < 0.05


def test_auto_gain_brings_quiet_and_loud_music_to_the_same_levels():
    y = DemoMusic(SR).read(16 * SR)
    loud = BandLevels(SPEC).process(frames_of(y))
    quiet_frames = frames_of(y * 0.05)  # 26 dB quieter
    quiet = BandLevels(SPEC).process(quiet_frames)
    settled = slice(int(8 * SPEC.frame_rate), None)
    assert np.abs(loud[settled] - quiet[settled]).mean() < 0.02
    assert 0.3 < loud[settled].mean() < 0.8  # a useful range, not pinned at 0 or 1
    assert loud[settled].max() > 0.75 and loud[settled].min() < 0.3  # and it moves
    # without auto-gain the two would differ by 26 dB
    lay = BandLayout(SPEC)
    ratio = lay.energies(frames_of(y))[settled, 0].mean() / lay.energies(quiet_frames)[settled, 0].mean()
    assert 10 * math.log10(ratio) == pytest.approx(26.0, abs=0.1)


def test_level_is_one_half_at_the_long_term_average_and_tracks_attack_release():
    fr = SPEC.frame_rate
    x = np.concatenate((_db_frames(int(6 * fr), 20.0), _db_frames(int(1 * fr), 40.0),
                        _db_frames(int(1 * fr), -100.0)))
    b = BandLevels(SPEC).process(x)[:, 0]
    steady = int(6 * fr) - 1
    assert b[steady] == pytest.approx(0.5, abs=1e-6)  # constant input = its own average
    jump = b[steady + 1]  # +20 dB (10x amplitude) arrives with the 10 ms attack: nearly all of it
    ratio = 1 + (10 - 1) * (1 - math.exp(-1 / (0.010 * fr)))
    assert jump == pytest.approx(math.tanh(math.atanh(0.5) * ratio / _avg_after(steady + 1)),
                                 rel=1e-3)
    off = int(7 * fr)
    after = b[off + round(0.150 * fr) - 1]  # one release time constant after the sound stopped
    peak_ratio = math.atanh(b[off - 1]) / math.atanh(0.5)
    expected = math.tanh(math.atanh(0.5) * peak_ratio * math.exp(-round(0.150 * fr) / (0.150 * fr)))
    assert after == pytest.approx(expected, rel=0.15)
    assert b[-1] < 0.01  # silence falls to 0


def _avg_after(n_frames: int) -> float:
    """Long-term average (in units of the steady amplitude) right after the first louder frame."""
    a_long = 1 - math.exp(-1 / (5.0 * SPEC.frame_rate))
    return 1 + (10 - 1) * (1.0 / (n_frames + 1) if (n_frames + 1) * a_long < 1 else a_long)


def test_time_constants_mean_seconds_at_any_frame_rate():
    decays = []
    for fps in (30, 60, 120):
        spec = FeatureSpec(fps=fps)
        fr = spec.frame_rate
        x = np.concatenate((_db_frames(int(6 * fr), 20.0, spec), _db_frames(int(fr), -100.0, spec)))
        b = BandLevels(spec).process(x)[:, 0]
        decays.append(b[int(6 * fr) - 1 + round(0.2 * fr)])  # 200 ms after the stop
    assert max(decays) - min(decays) < 0.03


@pytest.mark.parametrize("freq", [150.0, 440.0, 1000.0, 2500.0, 6000.0])
def test_centroid_of_a_sine_is_its_frequency(freq):
    c = Centroid(SPEC).process(frames_of(tone(freq, 0.5)))
    centres = BandLayout(SPEC).centres_hz
    i = int(np.argmin(np.abs(centres - freq)))
    spacing = (centres[min(i + 1, 63)] - centres[max(i - 1, 0)]) / 2
    assert abs(c[-1, 0] - freq) < spacing
    assert 0 < c[-1, 1] < 1


def test_centroid_norm_orders_low_to_high_and_holds_in_silence():
    y = np.concatenate((tone(200, 0.5), tone(4000, 0.5), np.zeros(SR)))
    c = Centroid(SPEC).process(frames_of(y))
    t = SPEC.frame_end_times(len(c))
    low, high = c[np.searchsorted(t, 0.45), 1], c[np.searchsorted(t, 0.95), 1]
    assert low < 0.3 < 0.7 < high
    assert c[-1, 0] == pytest.approx(c[np.searchsorted(t, 0.95), 0], rel=0.05)  # held
    assert np.all(Centroid(SPEC).process(frames_of(np.zeros(SR))) == 0.0)


def test_levels_pass_rms_and_onset_through_and_normalise_onset():
    f = frames_of(DemoMusic(SR).read(6 * SR))
    lv = Levels(SPEC).process(f)
    np.testing.assert_array_equal(lv[:, 0], f[:, SPEC.n_mels])
    np.testing.assert_array_equal(lv[:, 2], f[:, SPEC.n_mels + 1])
    assert lv[:, 1].max() == pytest.approx(1.0) and lv[:, 1].min() >= 0.0
    assert (lv[:, 1] <= 1.0 + 1e-12).all()
    assert np.all(Levels(SPEC).process(frames_of(np.zeros(SR)))[:, 1] == 0.0)


def test_frames_of_the_wrong_width_are_refused():
    with pytest.raises(InputError, match=r"shape \(n, 66\)"):
        BandLevels(SPEC).process(np.zeros((4, 64)))
