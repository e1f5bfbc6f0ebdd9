"""The streaming resampler: output for every block, the same samples whatever the split, a delay of a
few ms (counted in samples), a flat passband and an 80 dB stop band, at the common device rates."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge import FeatureExtractor, FeatureSpec, StreamResampler
from bridge.audio.resample import ATTENUATION_DB, PASS_FRACTION

RATES = [44100, 48000, 88200, 96000, 16000, 32000, 11025]  # 22,050: passthrough, tested below


def stream(resampler, x, sizes):
    out, i = [], 0
    for n in sizes:
        out.append(resampler.process(x[i:i + n]))
        i += n
        if i >= x.size:
            break
    if i < x.size:
        out.append(resampler.process(x[i:]))
    out.append(resampler.flush())
    return np.concatenate(out)


def whole(rate, x, out=22050):
    r = StreamResampler(rate, out)
    return np.concatenate([r.process(x), r.flush()])


@settings(max_examples=15, deadline=None)
@given(rate=st.sampled_from([44100, 48000, 16000, 32000]), seed=st.integers(0, 2**32 - 1),
       sizes=st.lists(st.integers(0, 3000), min_size=2, max_size=40))
def test_any_split_gives_bit_identical_output(rate, seed, sizes):
    x = np.random.default_rng(seed).standard_normal(rate // 2) * 0.3
    got = stream(StreamResampler(rate, 22050), x, sizes * (1 + x.size // max(1, sum(sizes))))
    want = whole(rate, x)
    assert got.size == want.size == -(-x.size * 22050 // rate)
    assert np.array_equal(got, want)


@settings(max_examples=20, deadline=None)
@given(rate=st.sampled_from(RATES), seed=st.integers(0, 2**32 - 1),
       sizes=st.lists(st.integers(0, 30000), min_size=1, max_size=12))
def test_the_whole_file_kernel_is_split_invariant_and_rounds_within_1e12_of_the_live_one(
        rate, seed, sizes):
    """``whole_file=True`` (FFT overlap-save at 44.1/88.2 kHz, block matrix products at the other
    rates): bit-identical whatever the split, the same length, and the live kernel's samples to
    1e-12 (the same filter; only the rounding differs, ~1e-15)."""
    x = np.random.default_rng(seed).standard_normal(rate + seed % 5000) * 0.3
    got = stream(StreamResampler(rate, 22050, whole_file=True), x, sizes)
    r = StreamResampler(rate, 22050, whole_file=True)
    want = np.concatenate([r.process(x), r.flush()])
    live = whole(rate, x)
    assert np.array_equal(got, want)
    assert want.size == live.size == -(-x.size * 22050 // rate)
    assert np.abs(want - live).max() <= 1e-12


@pytest.mark.parametrize("rate", [44100, 48000])
def test_the_whole_file_kernel_releases_whole_blocks_and_is_not_the_live_one(rate):
    """It holds outputs back until a block's inputs are all in (so not for the live path), and it
    is a different computation: on noise some samples differ from the live kernel's in the last
    bits. Equal rates stay a passthrough."""
    x = np.random.default_rng(3).standard_normal(rate * 2) * 0.3
    r = StreamResampler(rate, 22050, whole_file=True)
    assert r.process(x[:rate // 100]).size == 0  # a 10 ms block: no block complete yet
    got = np.concatenate([r.process(x[rate // 100:]), r.flush()])
    assert got.size == 44100 and not np.array_equal(got, whole(rate, x)[:got.size])
    p = StreamResampler(22050, 22050, whole_file=True)
    assert p.passthrough and not p.whole_file
    assert np.array_equal(p.process(x[:100]), x[:100])


@pytest.mark.parametrize("rate", RATES)
def test_every_rate_one_sample_and_device_blocks_equal_the_whole(rate):
    x = np.random.default_rng(rate).standard_normal(rate) * 0.3
    want = whole(rate, x)
    assert np.array_equal(stream(StreamResampler(rate, 22050), x, [rate // 100] * 200), want)
    assert np.array_equal(stream(StreamResampler(rate, 22050), x[:3000], [1] * 3000),
                          whole(rate, x[:3000]))


@pytest.mark.parametrize("rate", RATES)
def test_a_click_stays_where_it_was_and_comes_out_after_the_half_length(rate):
    """The delay is compensated (an impulse stays at its time); every 10 ms block gives output,
    and the click's output sample leaves with the block holding input sample click + delay."""
    x = np.zeros(rate)
    click = rate // 2 + 7
    x[click] = 1.0
    r = StreamResampler(rate, 22050)
    block, outs = rate // 100, []
    for i in range(0, x.size, block):
        outs.append(r.process(x[i:i + block]))
        assert len(outs) < 2 or outs[-1].size > 0  # nothing held back beyond the half-length
    y = np.concatenate(outs + [r.flush()])
    t = click * 22050 / rate
    assert abs(np.argmax(np.abs(y)) - t) <= 0.5
    k = round(t)  # the output at the click's time: in the block that brings input k*M/L + delay
    first_block = next(i for i, _ in enumerate(outs) if sum(map(len, outs[:i + 1])) > k)
    assert first_block == (int(k * rate / 22050) + r.delay_samples) // block
    assert 1.5e-3 < r.delay_seconds < 5.5e-3  # a few ms at every rate


@pytest.mark.parametrize("rate", [44100, 48000])
def test_latency_samples_is_the_half_length_in_output_samples(rate):
    r = StreamResampler(rate, 22050)
    x = np.random.default_rng(0).standard_normal(rate)
    held = []
    for i in range(0, x.size, rate // 100):
        r.process(x[i:i + rate // 100])
        held.append(r.latency_samples)
    half = r.delay_samples * 22050 / rate
    assert all(half - 1 < v <= half + 1 for v in held[1:])
    r.flush()
    assert abs(r.latency_samples) < 1


def tone_db(rate, f, seconds=1.0):
    t = np.arange(int(rate * seconds)) / rate
    y = whole(rate, np.sin(2 * np.pi * f * t))[2000:-2000]
    return 20 * np.log10(np.sqrt(2 * np.mean(y ** 2)) + 1e-300)


@pytest.mark.parametrize("rate", [44100, 48000, 96000, 32000, 16000])
def test_passband_ripple_and_stop_band_measured_on_sines(rate):
    band = min(rate, 22050) / 2
    passband = [tone_db(rate, f) for f in np.linspace(50, PASS_FRACTION * band * 0.99, 9)]
    assert max(abs(v) for v in passband) < 0.01  # dB
    if rate > 22050:  # what would alias into the features: above 11,025 Hz, up to the input band
        stop = [tone_db(rate, f) for f in np.linspace(band * 1.001, rate / 2 * 0.98, 9)]
        assert max(stop) < -ATTENUATION_DB + 3


def test_equal_rates_pass_through_untouched():
    r = StreamResampler(22050, 22050)
    x = np.random.default_rng(0).standard_normal(1000)
    assert r.passthrough and np.array_equal(r.process(x), x) and r.latency_samples == 0
    assert r.delay_samples == 0


def test_bad_rates_are_refused_and_process_after_flush_is_an_error():
    from bridge.errors import ConfigError

    with pytest.raises(ConfigError, match="positive"):
        StreamResampler(0, 22050)
    with pytest.raises(ConfigError, match="whole numbers"):
        StreamResampler(44100.5, 22050)
    r = StreamResampler(48000, 22050)
    r.flush()
    with pytest.raises(RuntimeError, match="reset"):
        r.process(np.zeros(10))
    r.reset()
    assert r.process(np.zeros(4800)).size > 0


def test_other_input_kinds_give_the_same_samples():
    """Strided (a stereo channel), float32 and (n, 1) blocks are read as float64 mono."""
    x = np.random.default_rng(7).standard_normal((48000, 2)) * 0.3
    r = StreamResampler(48000, 22050)
    got = []
    for k, i in enumerate(range(0, x.shape[0], 480)):
        block = [x[i:i + 480, 0], x[i:i + 480, :1], x[i:i + 480, 0].astype(np.float32)][k % 3]
        got.append(r.process(block))
        assert got[-1].ndim == 1 and got[-1].dtype == np.float64
    got.append(r.flush())
    want = [x[i:i + 480, 0].astype(np.float32).astype(np.float64) if k % 3 == 2 else x[i:i + 480, 0]
            for k, i in enumerate(range(0, x.shape[0], 480))]
    assert np.array_equal(np.concatenate(got), whole(48000, np.concatenate(want)))


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
