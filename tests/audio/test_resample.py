"""The streaming resampler gives the same samples whatever the block sizes, aligned in time."""

import numpy as np
import pytest
import soxr

from bridge import FeatureExtractor, FeatureSpec, StreamResampler


def stream(resampler, x, sizes):
    out, i = [], 0
    for n in sizes:
        out.append(resampler.process(x[i:i + n]))
        i += n
        if i >= x.size:
            break
    out.append(resampler.flush())
    return np.concatenate(out)


@pytest.mark.parametrize("rate", [44100, 48000, 32000])
def test_block_size_invariance_and_equality_with_one_shot(rate):
    x = np.random.default_rng(rate).standard_normal(rate * 3) * 0.2
    one_shot = soxr.resample(x, rate, 22050, quality="HQ")
    rng = np.random.default_rng(1)
    a = stream(StreamResampler(rate, 22050), x, [480] * 10_000)
    b = stream(StreamResampler(rate, 22050), x, rng.integers(1, 5000, 10_000))
    c = stream(StreamResampler(rate, 22050), x, [1] * x.size)
    assert a.size == b.size == c.size == one_shot.size == round(x.size * 22050 / rate)
    assert np.array_equal(a, b) and np.array_equal(a, c) and np.array_equal(a, one_shot)


def test_no_delay_a_click_stays_where_it_was():
    """soxr compensates its filter delay: an impulse at t stays at t after resampling."""
    x = np.zeros(48000)
    x[24000] = 1.0  # t = 0.5 s
    y = stream(StreamResampler(48000, 22050), x, [480] * 200)
    assert abs(np.argmax(np.abs(y)) - 0.5 * 22050) <= 1


def test_latency_is_reported_and_bounded():
    r = StreamResampler(48000, 22050)
    x = np.random.default_rng(0).standard_normal(48000)
    held = []
    for i in range(0, x.size, 480):
        r.process(x[i:i + 480])
        held.append(r.latency_samples)
    assert 0 <= min(held[20:]) and max(held[20:]) < 0.1 * 22050  # under 100 ms
    r.flush()
    assert abs(r.latency_samples) < 1


def test_equal_rates_pass_through_untouched():
    r = StreamResampler(22050, 22050)
    x = np.random.default_rng(0).standard_normal(1000)
    assert r.passthrough and np.array_equal(r.process(x), x) and r.latency_samples == 0


def test_device_rate_stream_gives_the_same_features_whatever_the_blocks():
    spec = FeatureSpec(fps=60)
    x = np.random.default_rng(5).standard_normal(48000 * 2) * 0.3

    def features(sizes):
        r, ex, out, i = StreamResampler(48000, 22050), FeatureExtractor(spec), [], 0
        for n in sizes:
            out.append(ex.process(r.process(x[i:i + n])))
            i += n
            if i >= x.size:
                break
        return np.concatenate(out)

    a = features([480] * 1000)
    b = features(np.random.default_rng(2).integers(1, 3000, 1000))
    n = min(len(a), len(b))
    assert n > 100 and np.abs(a[:n] - b[:n]).max() <= 1e-9


def test_direct_c_path_equals_resample_chunk_for_every_input_kind():
    """process() calls python-soxr's C function directly; the samples are resample_chunk's, also
    for strided (a stereo channel), float32 and 2-D (n, 1) blocks."""
    x = np.random.default_rng(7).standard_normal((48000, 2)) * 0.3
    r = StreamResampler(48000, 22050)
    ref = soxr.ResampleStream(48000, 22050, 1, dtype="float64", quality="HQ")
    assert r._c is not None  # the installed python-soxr has the C entry point this path uses
    got, want = [], []
    for k, i in enumerate(range(0, x.shape[0], 480)):
        block = [x[i:i + 480, 0], x[i:i + 480, :1], x[i:i + 480, 0].astype(np.float32)][k % 3]
        got.append(r.process(block))
        want.append(ref.resample_chunk(np.ascontiguousarray(block, dtype=np.float64).reshape(-1)))
        assert got[-1].ndim == 1 and got[-1].dtype == np.float64
    got.append(r.flush())
    want.append(ref.resample_chunk(np.zeros(0), last=True))
    assert np.array_equal(np.concatenate(got), np.concatenate(want))
    assert r.samples_out == sum(map(len, got)) > 21000
