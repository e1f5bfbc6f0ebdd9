"""Chunk invariance: any split of a stream into blocks gives the frames of one whole block."""

import numpy as np
import pytest

from bridge import FeatureExtractor, FeatureSpec
from bridge.errors import InputError
from tests.audio.conftest import FPS_ALL, synthetic


def in_random_blocks(extractor, y, rng, *, max_block):
    out, i = [], 0
    while i < y.size:
        n = int(rng.integers(1, max_block))
        out.append(extractor.process(y[i:i + n]))
        i += n
    return np.concatenate(out)


@pytest.mark.parametrize("fps", FPS_ALL)
def test_random_block_sizes_give_the_same_frames(music, fps):
    spec = FeatureSpec(fps=fps)
    rng = np.random.default_rng(fps)
    for y in music.values():
        whole = FeatureExtractor(spec).process(y)
        chunked = in_random_blocks(FeatureExtractor(spec), y, rng, max_block=6000)
        assert chunked.shape == whole.shape
        assert np.abs(chunked - whole).max() <= 1e-6


@pytest.mark.parametrize("fps", (1, 8, 60))
def test_one_sample_at_a_time(fps):
    spec = FeatureSpec(fps=fps)
    y = synthetic("clicks", 1.3 if fps == 1 else 0.4) + 0.01 * synthetic("noise", 1.3 if fps == 1 else 0.4)
    whole = FeatureExtractor(spec).process(y)
    ex = FeatureExtractor(spec)
    singles = [ex.process(y[i:i + 1]) for i in range(y.size)]
    assert np.abs(np.concatenate(singles) - whole).max() <= 1e-6
    # each frame appears exactly when its last sample arrives
    arrivals = [i for i, f in enumerate(singles) for _ in range(len(f))]
    expected = [t * spec.hop_length + spec.n_fft - 1 for t in range(len(whole))]
    assert arrivals == expected


def test_reset_starts_a_new_stream(music):
    y = next(iter(music.values()))
    spec = FeatureSpec(fps=30)
    ex = FeatureExtractor(spec)
    first = ex.process(y)
    ex.process(y[:1234])
    ex.reset()
    assert ex.frames_emitted == 0
    assert np.array_equal(ex.process(y), first)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_refused_and_leaves_the_stream_intact(bad):
    spec = FeatureSpec(fps=60)
    y = synthetic("noise", 1.0) * 0.3
    ex = FeatureExtractor(spec)
    part = ex.process(y[:5000])
    poisoned = y[5000:6000].copy()
    poisoned[17] = bad
    with pytest.raises(InputError, match=r"1 non-finite sample\(s\).*stream sample 5017"):
        ex.process(poisoned)
    rest = ex.process(y[5000:])
    assert np.abs(np.concatenate([part, rest]) - FeatureExtractor(spec).process(y)).max() <= 1e-6


def test_wrong_shapes_and_types_are_refused():
    ex = FeatureExtractor(FeatureSpec())
    with pytest.raises(InputError, match="mono audio"):
        ex.process(np.zeros((100, 2)))
    with pytest.raises(InputError, match="int16 / 32768"):
        ex.process(np.zeros(100, dtype=np.int16))
    assert ex.process(np.zeros((100, 1))).shape == (0, 66)  # a single column is fine
