"""The in-package mel filterbank equals librosa.filters.mel exactly (same float32 values)."""

import librosa
import numpy as np
import pytest
import scipy.signal

from bridge.audio.melbank import MelProjector, mel_filterbank, periodic_hann


@pytest.mark.parametrize("sr, n_fft, n_mels, fmin, fmax, htk, norm", [
    (22050, 2048, 64, 0.0, None, False, "slaney"),
    (22050, 2048, 128, 0.0, None, False, "slaney"),
    (44100, 1024, 40, 50.0, 16000.0, False, "slaney"),
    (16000, 512, 26, 0.0, None, True, None),
    (48000, 4096, 96, 20.0, 20000.0, True, "slaney"),
])
def test_filterbank_equals_librosa(sr, n_fft, n_mels, fmin, fmax, htk, norm):
    ours = mel_filterbank(sample_rate=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
                          htk=htk, norm=norm)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk,
                              norm=norm)
    assert ours.dtype == ref.dtype == np.float32
    assert np.array_equal(ours, ref)


def test_window_is_periodic_hann():
    assert np.abs(periodic_hann(2048) - scipy.signal.get_window("hann", 2048)).max() < 1e-15


def test_sparse_projection_equals_dense_product():
    bank = mel_filterbank(sample_rate=22050, n_fft=2048, n_mels=64)
    power = np.random.default_rng(0).random((7, 1025)) ** 4
    out = np.empty((7, 64))
    MelProjector(bank)(power, out)
    assert np.allclose(out, power @ bank.astype(np.float64).T, rtol=1e-12, atol=0)
