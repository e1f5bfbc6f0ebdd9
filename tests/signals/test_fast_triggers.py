"""`FastTriggers` on synthetic audio with known events: what fires, in which hop (stream samples,
not seconds), whatever the block sizes; silence and a noise floor never fire."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.audio.demo import DemoMusic
from bridge.signals.fast_triggers import FastTriggers, low_latency_window

RATE = 48000


def floor(seconds: float, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(int(seconds * RATE)) * 1e-3  # -60 dBFS


def clicks(n: int = 10, spacing: float = 0.5, start: float = 0.5) -> tuple[np.ndarray, list[int]]:
    """5 ms uniform-noise bursts (the e2e benchmark's clicks) starting at odd sample offsets."""
    rng = np.random.default_rng(3)
    y = floor(start + n * spacing)
    at = [int(start * RATE) + k * int(spacing * RATE) + 37 * k for k in range(n)]
    for s in at:
        y[s:s + 240] = rng.uniform(-0.5, 0.5, 240)
    return y, at


def bed(seconds: float, seed: int = 3) -> np.ndarray:
    """What a hit sits on in a mix (tests/signals/test_triggers.py's): a bass note and hiss."""
    t = np.arange(int(seconds * RATE)) / RATE
    return 0.003 * np.random.default_rng(seed).standard_normal(t.size) \
        + 0.2 * np.sin(2 * np.pi * 55 * t)


def drums(sound: str, n: int = 8) -> tuple[np.ndarray, list[int]]:
    """Synthesized kicks or snares (tests/signals/conftest.py's) 0.5 s apart on :func:`bed`."""
    t = np.arange(int(0.3 * RATE)) / RATE
    if sound == "kick":
        hit = 0.8 * np.sin(2 * np.pi * (45 * t + 65 * (1 - np.exp(-t * 30)) / 30)) * np.exp(-t * 9)
    else:
        hit = 0.5 * (0.7 * np.random.default_rng(0).standard_normal(t.size)
                     + 0.3 * np.sin(2 * np.pi * 190 * t)) * np.exp(-t * 20)
    hit *= np.minimum(1.0, (t[::-1] / 0.02))  # a 20 ms fade at the end: no click of its own
    y = bed(0.5 + 0.5 * n + 0.5)
    at = [int((0.5 + 0.5 * k) * RATE) for k in range(n)]
    for s in at:
        y[s:s + hit.size] += hit
    return y, at


def run(det: FastTriggers, y: np.ndarray, block: int = 240) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {name: [] for name in det.names}
    for i in range(0, y.size, block):
        for name, at in det.process(y[i:i + block]):
            out[name].append(at)
    return out


def test_each_click_is_one_onset_and_one_snare_in_the_hop_that_holds_it():
    y, at = clicks()
    det = FastTriggers(RATE)
    got = run(det, y)
    for name in ("onset", "snare"):
        assert len(got[name]) == len(at), name
        for event, start in zip(got[name], at):
            # decided on the newest sample of the first or second hop holding the click
            assert start <= event < start + 2 * det.hop, (name, event - start)


@pytest.mark.parametrize("sound", ["kick", "snare"])
def test_a_drum_fires_its_own_trigger_within_a_few_hops(sound):
    y, at = drums(sound)
    det = FastTriggers(RATE)
    got = run(det, y)
    assert len(got[sound]) == len(at)
    for event, start in zip(got[sound], at):
        assert start <= event < start + 4 * det.hop  # 20 ms at 48 kHz
    other = "snare" if sound == "kick" else "kick"
    # a kick's attack splashes into 1-5 kHz: once in 8 here (the 60 Hz snare: 8 of these 8)
    assert len(got[other]) <= 1
    assert len(got["onset"]) == len(at)


def test_silence_and_a_noise_floor_never_fire():
    det = FastTriggers(RATE)
    assert run(det, np.zeros(2 * RATE)) == {"onset": [], "kick": [], "snare": []}
    det.reset()
    assert run(det, floor(3.0)) == {"onset": [], "kick": [], "snare": []}


def test_the_demo_groove_kicks_on_every_beat_and_snares_on_the_backbeat():
    y = DemoMusic(RATE).read(10 * RATE)
    got = run(FastTriggers(RATE), y)
    beat = 60.0 / DemoMusic.BPM * RATE
    kick_phase = (np.asarray(got["kick"]) / beat) % 1.0
    # one per beat (but the first: the first 21 ms of a stream decide nothing)...
    assert len(got["kick"]) == int(np.ceil(y.size / beat)) - 1
    assert np.all((kick_phase < 0.1))  # ...just after it
    snares = np.asarray(got["snare"])
    snares = snares[snares > 0.2 * RATE]  # the stream starts on a kick's tail
    snare_phase = (snares / beat) % 2.0
    assert len(snares) == 10 and np.all(np.abs(snare_phase - 1.05) < 0.1)


def test_reset_forgets_the_stream():
    y, _ = clicks(4)
    det = FastTriggers(RATE)
    first = run(det, y)
    det.reset()
    assert run(det, y) == first


def test_a_higher_threshold_fires_on_fewer_hits_and_a_redrawn_band_listens_elsewhere():
    y, at = drums("kick")
    det = FastTriggers(RATE)
    det.set_min_rise("kick", 80.0)
    assert run(det, y)["kick"] == []
    det = FastTriggers(RATE)
    det.set_band("kick", 2000.0, 8000.0)  # no kick energy up there
    det.reset()
    assert run(det, y)["kick"] == []
    det.set_band("kick", 40.0, 160.0)
    det.reset()
    assert len(run(det, y)["kick"]) == len(at)


@pytest.mark.parametrize("rate", [22050, 44100, 48000])
def test_rates_give_a_5_ms_hop_and_a_window_near_21_ms(rate):
    det = FastTriggers(rate)
    assert abs(det.hop / rate - 0.005) < 0.0001
    assert 0.015 < det.n_fft / rate < 0.03


def test_the_window_weights_the_newest_samples_fully_but_the_last_few():
    w = low_latency_window(1024, 96)
    assert w.shape == (1024,) and w.max() == 1.0
    assert np.all(w[-240:-96] > 0.9)  # the newest 5 ms but 2 ms count fully
    assert w[-1] < 0.05 and w[0] < 0.01


_AUDIO = None


def _audio():
    """1.5 s with clicks, a kick and a snare over the floor (built once)."""
    global _AUDIO
    if _AUDIO is None:
        y = floor(1.5, seed=5)
        c, _ = clicks(2, spacing=0.3, start=0.1)
        k, _ = drums("kick", 1)
        s, _ = drums("snare", 1)
        y[:c.size] += c[:y.size]
        y[int(0.8 * RATE):] += k[int(0.5 * RATE):int(0.5 * RATE) + y.size - int(0.8 * RATE)]
        y[int(1.2 * RATE):] += s[int(0.5 * RATE):int(0.5 * RATE) + y.size - int(1.2 * RATE)]
        _AUDIO = y
    return _AUDIO


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=1, max_value=2000), min_size=1, max_size=40))
def test_the_same_events_whatever_the_block_sizes(sizes):
    y = _audio()
    whole = FastTriggers(RATE).process(y)
    assert {name for name, _ in whole} == {"onset", "kick", "snare"}
    det = FastTriggers(RATE)
    got, i, k = [], 0, 0
    while i < y.size:
        n = sizes[k % len(sizes)]
        got += det.process(y[i:i + n])
        i, k = i + n, k + 1
    assert got == whole
    assert det.samples == y.size
