"""The extractor's small-block path (the live engine feeds one hop per call) gives the batch path's
frames, also when block sizes switch between the two paths mid-stream."""

import numpy as np
import pytest

from bridge import FeatureExtractor, FeatureSpec
from bridge.errors import InputError
from tests.audio.conftest import synthetic


def test_one_hop_per_call_and_mixed_blocks_equal_one_block():
    spec = FeatureSpec(fps=60)
    y = 0.5 * synthetic("clicks", 3.0) + 0.05 * synthetic("noise", 3.0)
    whole = FeatureExtractor(spec).process(y)
    ex = FeatureExtractor(spec)
    hop, n_fft = spec.hop_length, spec.n_fft
    hops = [ex.process(y[:n_fft - hop])] + [ex.process(y[i:i + hop])
                                            for i in range(n_fft - hop, y.size, hop)]
    assert [len(f) for f in hops[1:len(whole) + 1]] == [1] * len(whole)
    assert np.abs(np.concatenate(hops) - whole).max() <= 1e-12
    # small, large (batch path), tiny, a few frames at once, ... in one stream
    ex = FeatureExtractor(spec)
    sizes = [100, 5000, 1, 368, 1500, 7000, 0, 300, 2, 20000]
    parts, i = [], 0
    while i < y.size:
        n = sizes[len(parts) % len(sizes)]
        parts.append(ex.process(y[i:i + n]))
        i += n
    got = np.concatenate(parts)
    assert got.shape == whole.shape and np.abs(got - whole).max() <= 1e-12
    assert ex.frames_emitted == len(whole) and ex.samples_seen == y.size
    assert got[1:, -1].max() > 1.0  # the clicks give onsets: the onset history really carried


def test_blocks_of_a_few_hops_give_exactly_the_one_hop_frames():
    """What a 10 ms device block gives after resampling (~1-3 hops, any alignment) goes through
    the one-frame computation frame by frame: the same bits as feeding one hop per call."""
    spec = FeatureSpec(fps=60)
    y = 0.5 * synthetic("clicks", 3.0) + 0.05 * synthetic("noise", 3.0)
    hop = spec.hop_length
    ex = FeatureExtractor(spec)
    one = np.concatenate([ex.process(y[i:i + hop]) for i in range(0, y.size, hop)])
    ex = FeatureExtractor(spec)
    sizes = np.random.default_rng(4).integers(200, 1500, y.size // 200)
    got, i = [], 0
    for n in sizes:
        f = ex.process(y[i:i + n])
        assert len(f) <= 5
        got.append(f)
        i += n
    got.append(ex.process(y[i:]))
    got = np.concatenate(got)
    assert got.shape == one.shape and np.array_equal(got, one)
    assert got[1:, -1].max() > 1.0


def test_the_cheap_finiteness_check_refuses_non_finite_hops_and_accepts_huge_finite_ones():
    """Live hops are checked by their sum of squares; one that overflows (finite samples above
    ~1e154) falls through to the exact check and is accepted; NaN/inf in a hop is refused."""
    spec = FeatureSpec(fps=60)
    hop = spec.hop_length
    y = 0.1 * synthetic("noise", 1.0)
    ex = FeatureExtractor(spec)
    for i in range(0, 10 * hop, hop):
        ex.process(y[i:i + hop])
    for bad in (np.nan, np.inf):
        block = y[10 * hop:11 * hop].copy()
        block[5] = bad
        with pytest.raises(InputError, match="non-finite"):
            ex.process(block)
    huge = np.full(hop, 1e200)  # absurd audio (its spectrum overflows too), but finite
    ex = FeatureExtractor(spec)
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(huge.dot(huge))
        frames = [ex.process(huge) for _ in range(8)]  # accepted, one hop per call
    assert sum(len(f) for f in frames) == 1 + (8 * hop - spec.n_fft) // hop
