"""ClassicSignals: all stages together, chunk invariance, reset, and agreement with each stage."""

import numpy as np
import pytest

from bridge.audio.demo import DemoMusic
from bridge.audio.spec import FeatureSpec
from bridge.errors import ConfigError, InputError
from bridge.signals import (CLASSIC, BandLevels, Centroid, ClassicSignals, Levels, OnsetTriggers,
                            TempoTracker)
from tests.signals.conftest import SPEC, SR, frames_of

TRIGGERS = [i for i, s in enumerate(CLASSIC.values()) if s.kind == "trigger"]


def _chunks(frames: np.ndarray, sizes):
    i = 0
    for n in sizes:
        if i >= len(frames):
            break
        yield frames[i:i + n]
        i += n
    if i < len(frames):
        yield frames[i:]


def _assert_same(a: np.ndarray, b: np.ndarray):
    assert a.shape == b.shape
    np.testing.assert_array_equal(a[:, TRIGGERS], b[:, TRIGGERS])  # same events, same frames
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def test_output_has_a_column_per_catalog_signal(demo_frames):
    cs = ClassicSignals(SPEC)
    out = cs.process(demo_frames)
    assert out.shape == (len(demo_frames), len(CLASSIC)) and cs.names == tuple(CLASSIC)
    assert np.isfinite(out).all()
    for name, col in cs.as_dict(out).items():  # every value inside its declared range
        lo, hi = CLASSIC[name].range
        assert col.min() >= lo and col.max() <= hi, name
    d = cs.as_dict(out)
    assert d["kick"].sum() > 30 and d["beat"].sum() > 20 and abs(d["bpm"][-1] - 124) < 1


def test_same_numbers_as_the_stages_alone(demo_frames):
    out = ClassicSignals(SPEC).as_dict(ClassicSignals(SPEC).process(demo_frames))
    for cls in (BandLevels, Levels, Centroid, OnsetTriggers, TempoTracker):
        alone = cls(SPEC).process(demo_frames)
        for j, name in enumerate(cls.names):
            np.testing.assert_array_equal(out[name], alone[:, j], err_msg=name)


def test_chunk_invariance_one_frame_at_a_time_or_all_at_once(demo_frames):
    whole = ClassicSignals(SPEC).process(demo_frames)
    cs = ClassicSignals(SPEC)
    one_by_one = np.concatenate([cs.process(f) for f in _chunks(demo_frames, [1] * len(demo_frames))])
    _assert_same(whole, one_by_one)
    sizes = np.random.default_rng(0).integers(0, 50, size=len(demo_frames))
    cs = ClassicSignals(SPEC)
    random = np.concatenate([cs.process(f) for f in _chunks(demo_frames, sizes)])
    _assert_same(whole, random)


def test_empty_input_gives_empty_output_and_keeps_state(demo_frames):
    cs = ClassicSignals(SPEC)
    a = cs.process(demo_frames[:300])
    assert cs.process(np.zeros((0, SPEC.n_features))).shape == (0, len(CLASSIC))
    b = cs.process(demo_frames[300:])
    _assert_same(np.concatenate((a, b)), ClassicSignals(SPEC).process(demo_frames))


def test_reset_restores_the_initial_state(demo_frames):
    other = frames_of(0.3 * np.random.default_rng(1).standard_normal(6 * SR))
    fresh = ClassicSignals(SPEC).process(demo_frames)
    cs = ClassicSignals(SPEC)
    cs.process(other)
    cs.process(demo_frames[:500])
    cs.reset()
    _assert_same(cs.process(demo_frames), fresh)


@pytest.mark.parametrize("fps", [30.0, 100.0])
def test_other_frame_rates(fps):
    spec = FeatureSpec(fps=fps)
    frames = frames_of(DemoMusic(SR).read(14 * SR), spec)
    d = ClassicSignals(spec).as_dict(ClassicSignals(spec).process(frames))
    assert abs(d["bpm"][-1] - 124) < 2
    assert d["kick"].sum() == pytest.approx(14 * 124 / 60, abs=2)


def test_bad_input_and_options_are_refused():
    with pytest.raises(InputError, match="66"):
        ClassicSignals(SPEC).process(np.zeros((3, 65)))
    with pytest.raises(ConfigError, match="unknown stage 'tempi'"):
        ClassicSignals(SPEC, options={"tempi": {}})
    cs = ClassicSignals(SPEC, options={"bands": {"longterm": 10.0}, "tempo": {"max_bpm": 180}})
    assert cs.stages[0].longterm == 10.0 and cs.stages[-1].max_bpm == 180


def test_one_frame_path_gives_the_band_energies_of_the_batch_product_bit_for_bit(demo_frames):
    """The live path's 1-D product equals BandLayout.energies on the same frame, exactly (the
    stages' state recursions then give the same numbers frame by frame)."""
    cs = ClassicSignals(SPEC)
    rng = np.random.default_rng(3)
    frames = np.concatenate([demo_frames, demo_frames + rng.normal(0.0, 10.0, demo_frames.shape)])
    nm = SPEC.n_mels
    for i in range(len(frames)):
        frame = frames[i:i + 1]
        one = np.dot(np.power(10.0, frame[0, :nm] * 0.1), cs.layout.matrix)
        assert np.array_equal(one, cs.layout.energies(frame)[0]), i


def test_live_frames_equal_a_reference_fed_through_each_stage_alone(demo_frames):
    """One frame per call (the live path) against every stage's own process on the same frames:
    exactly equal, frame by frame."""
    cs = ClassicSignals(SPEC)
    live = np.concatenate([cs.process(demo_frames[i:i + 1]) for i in range(len(demo_frames))])
    start = 0
    for cls in (BandLevels, Levels, Centroid, OnsetTriggers, TempoTracker):
        stage = cls(SPEC)
        alone = np.concatenate([stage.process(demo_frames[i:i + 1])
                                for i in range(len(demo_frames))])
        np.testing.assert_array_equal(live[:, start:start + alone.shape[1]], alone,
                                      err_msg=cls.__name__)
        start += alone.shape[1]
    assert start == len(CLASSIC)
