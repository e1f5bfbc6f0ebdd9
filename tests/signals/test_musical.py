"""pitch, warmth, roughness and speed on synthetic audio whose answer is known, and against librosa
(chroma_stft, spectral_centroid, spectral_flatness) where it has a reference."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest

from bridge.audio.decode import load_audio
from bridge.signals import ClassicSignals
from bridge.signals.musical import MusicalSignals, flatness_db, pitch_name
from tests.signals.conftest import SPEC, SR, frames_of, tone

MUSIC = sorted((Path(__file__).parents[1] / "data" / "music").glob("*.o*"))
HOP = SPEC.hop_length


def _last(y, bpm=None, **kw) -> np.ndarray:
    return MusicalSignals(SPEC, **kw).process(frames_of(y), bpm)[-1]


def _harmonic(freq: float, seconds: float = 1.0) -> np.ndarray:
    """A tone with 4 harmonics falling 1/k (a simple instrument)."""
    return sum(tone(freq * k, seconds, 0.4 / k) for k in range(1, 5))


NOTES = {"C4": 261.63, "E4": 329.63, "G4": 392.0, "A4": 440.0, "A#4": 466.16, "D5": 587.33,
         "F#5": 739.99, "B3": 246.94, "C#6": 1108.73, "G#3": 207.65}


@pytest.mark.parametrize("note", NOTES)
def test_a_tone_reads_its_pitch_class_as_librosa_does(note):
    y = _harmonic(NOTES[note])
    name = note.rstrip("0123456789")
    ours = _last(y)[0]
    assert pitch_name(ours) == name
    assert ours == pytest.approx(librosa.note_to_midi(note) % 12 / 12)
    chroma = librosa.feature.chroma_stft(y=y, sr=SR, n_fft=2048, hop_length=HOP, center=False,
                                         tuning=0.0)
    assert int(chroma[:, -10:].mean(axis=1).argmax()) == round(ours * 12)  # librosa: C = row 0


def _smoothed_argmax(chroma: np.ndarray) -> np.ndarray:
    d = np.exp(-1.0 / (0.25 * SPEC.frame_rate))
    s, out = np.zeros(12), []
    for col in chroma.T:
        s = s * d + col * (1 - d)
        out.append(int(s.argmax()))
    return np.array(out)


@pytest.fixture(scope="module")
def music():
    return {p.name: load_audio(p, sample_rate=SR)[:30 * SR] for p in MUSIC}


def test_pitch_on_real_music_mostly_agrees_with_librosa_chroma(music):
    assert len(music) == 3
    for name, y in music.items():
        ours = np.rint(MusicalSignals(SPEC).process(frames_of(y))[:, 0] * 12).astype(int) % 12
        ref = _smoothed_argmax(librosa.feature.chroma_stft(
            y=y, sr=SR, n_fft=2048, hop_length=HOP, center=False, tuning=0.0))
        n = min(len(ours), len(ref))
        agree = float(np.mean(ours[:n] == ref[:n]))
        assert agree > 0.45, (name, agree)  # measured 0.53, 0.66, 0.72; chance is 1/12


def test_warmth_falls_from_a_low_to_a_high_tone():
    values = [_last(tone(f, 0.5))[1] for f in (150, 300, 600, 1200, 2400, 4800, 8000)]
    assert values[0] == 1.0 and values[1] > 0.98
    assert values[-1] == 0.0
    assert all(a > b for a, b in zip(values[1:-2], values[2:-1])), values
    assert 0.4 < values[3] < 0.6  # 1200 Hz: half way along 300..6000 Hz in log frequency


def test_warmth_follows_librosas_spectral_centroid_on_real_music(music):
    for name, y in music.items():
        warmth = MusicalSignals(SPEC).process(frames_of(y))[:, 1]
        c = librosa.feature.spectral_centroid(y=y, sr=SR, n_fft=2048, hop_length=HOP,
                                              center=False)[0]
        ref = np.clip(1 - np.log(c / 300.0) / np.log(6000.0 / 300.0), 0, 1)
        n = min(len(ref), len(warmth))
        assert np.corrcoef(warmth[:n], ref[:n])[0, 1] > 0.95, name
        assert np.median(np.abs(warmth[:n] - ref[:n])) < 0.05, name


def _noise(kind: str, seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(int(seconds * SR))
    if kind == "pink":
        spectrum = np.fft.rfft(x) / np.sqrt(np.arange(1, x.size // 2 + 2))
        x = np.fft.irfft(spectrum, n=x.size)
    return 0.3 * x / np.std(x)


def test_roughness_is_smooth_for_a_sine_and_jagged_for_noise():
    sine = _last(tone(440, 1.0))[2]
    chord = _last(_harmonic(220) + _harmonic(330))[2]
    pink = MusicalSignals(SPEC).process(frames_of(_noise("pink")))[30:, 2].mean()
    white = MusicalSignals(SPEC).process(frames_of(_noise("white")))[30:, 2].mean()
    assert sine == 0.0
    assert chord < 0.5
    assert 0.85 < pink < white
    assert white > 0.97


def test_roughness_is_librosas_spectral_flatness_of_the_mel_bands(music):
    y = next(iter(music.values()))
    frames = frames_of(y)
    mel_power = 10.0 ** (frames[:, :64].T / 10.0)
    ref_db = 10 * np.log10(librosa.feature.spectral_flatness(S=mel_power, power=1.0)[0])
    assert np.allclose(flatness_db(frames[:, :64]), ref_db, atol=1e-6)
    rough = MusicalSignals(SPEC).process(frames)[:, 2]
    assert np.allclose(rough, np.clip(1 + ref_db / 60.0, 0, 1), atol=1e-6)
    # and it ranks like librosa's flatness of the FFT bins (the usual definition)
    stft = librosa.feature.spectral_flatness(y=y, n_fft=2048, hop_length=HOP, center=False)[0]
    n = min(len(stft), len(rough))
    from scipy.stats import spearmanr

    assert spearmanr(rough[:n], stft[:n]).statistic > 0.6


@pytest.mark.parametrize("bpm", [90, 150])
def test_speed_follows_a_click_tracks_tempo(bpm):
    y = librosa.clicks(times=np.arange(0.5, 12, 60.0 / bpm), sr=SR, length=12 * SR)
    frames = frames_of(y)
    classic = ClassicSignals(SPEC)
    tempo = classic.as_dict(classic.process(frames))["bpm"]
    speed = MusicalSignals(SPEC).process(frames, tempo)[:, 3]
    assert speed[0] == 1.0  # no tempo yet
    assert speed[-1] == pytest.approx(bpm / 120.0, abs=0.01)
    assert np.all(speed[tempo > 0] == tempo[tempo > 0] / 120.0)


def test_silence_holds_and_any_blocks_give_the_same_values():
    y = np.concatenate([_harmonic(392.0, 1.0), np.zeros(SR)])
    frames = frames_of(y)
    whole = MusicalSignals(SPEC).process(frames, np.full(len(frames), 124.0))
    stage = MusicalSignals(SPEC)
    one = np.vstack([stage.process(frames[i:i + 1], [124.0]) for i in range(len(frames))])
    assert np.array_equal(whole, one)
    assert pitch_name(whole[-1, 0]) == "G"
    assert np.array_equal(whole[-1, :3], whole[-int(0.5 * SPEC.frame_rate), :3])  # held
    stage.reset()
    assert stage.process(np.full((1, 66), -100.0))[0].tolist() == [0.0, 0.5, 0.0, 1.0]
