"""The audio energy vector (bridge/signals/energy.py, bridge/runtime/energy_stage.py): the stage's
process/reset contract, the file path equal to the live engine, the CLI's CSV, what the curves
say about percussive vs sustained audio, the causal split's latency, and the comparison with
librosa's non-causal hpss on real music."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from bridge.audio.demo import DemoMusic
from bridge.cli import main as cli
from bridge.errors import ConfigError
from bridge.runtime.energy_stage import EnergyStage, energy_curves, energy_stage
from bridge.runtime.engine import LIVE_SPEC, Engine
from bridge.runtime.pipeline import SignalsStage, build
from bridge.signals.energy import EnergyVector, parse_segment
from bridge.sources import FileSource
from tests.conftest import MUSIC
from tests.runtime.conftest import write_wav
from tests.signals.conftest import SPEC, SR, frames_of, kick, tone


@pytest.fixture(scope="module")
def demo_frames():
    return frames_of(DemoMusic(SR).read(10 * SR))


def _ones(stage, frames):
    return np.vstack([stage.process(frames[i:i + 1]).matrix for i in range(len(frames))])


def test_process_and_reset_contract(demo_frames):
    stage = EnergyStage(SPEC)
    assert stage.names == ("energy", "morph")
    first = _ones(stage, demo_frames)
    assert first.shape == (len(demo_frames), 2)
    cols = stage.process(demo_frames[:1])
    assert set(cols) == {"energy", "morph"} and cols["morph"].shape == (1,)
    stage.reset()  # a new stream: the same values again, bit for bit
    assert np.array_equal(_ones(stage, demo_frames), first)
    # any split into calls gives the same values (the file path hands it whole blocks)
    stage.reset()
    rng = np.random.default_rng(5)
    cuts = np.sort(rng.choice(np.arange(1, len(demo_frames)), 40, replace=False))
    parts = [stage.process(p).matrix for p in np.split(demo_frames, cuts)]
    assert np.array_equal(np.vstack(parts), first)
    energy, morph = first.T
    assert ((energy >= 0) & (energy <= 1)).all() and energy.max() == 1.0
    assert ((morph > 0) & (morph <= 1)).all()
    assert (np.diff(stage.vector.process(demo_frames)[:, 2]) >= 0).all()  # cumulative


def test_morph_is_linear_under_constant_energy_and_wraps_per_segment():
    y = np.random.default_rng(1).normal(0, 0.1, 8 * SR)  # steady noise: about constant energy
    vector = EnergyVector(SPEC, segment="1s")
    _, morph, _ = vector.process(frames_of(y)).T
    n = vector.segment_frames(None)
    assert n == round(SPEC.frame_rate)
    ends = np.flatnonzero(morph == 1.0)
    assert (np.diff(ends) == n).all() and len(ends) >= 7  # 1.0 on every segment's last frame
    seg = morph[ends[3] + 1:ends[4] + 1]  # a segment well after the start
    assert np.abs(seg - np.arange(1, n + 1) / n).max() < 0.05  # ~linear interpolation
    assert (np.diff(seg) > 0).all()


def test_a_segment_in_beats_follows_the_tracked_tempo():
    beat = int(SR * 60 / 100)
    y = np.zeros(16 * SR)
    for start in range(0, y.size - 7000, beat):  # a 100 BPM kick pattern
        k = kick()
        y[start:start + k.size] += k
    frames = frames_of(y)
    signals = SignalsStage(SPEC)
    stage = energy_stage(SPEC, [signals], segment="2b")
    out = []
    for i in range(len(frames)):
        one = frames[i:i + 1]
        bpm = signals.process(one)["bpm"][0]
        out.append((bpm, stage.process(one)["morph"][0]))
    bpm, morph = np.array(out).T
    assert abs(bpm[-1] - 100) < 2
    ends = np.flatnonzero(morph == 1.0)
    early = np.diff(ends[ends < 2 * SPEC.frame_rate])  # no tempo yet: 2 beats of 120 BPM
    assert list(early) == [round(SPEC.frame_rate)]
    late = np.diff(ends[ends > 7 * SPEC.frame_rate])  # once the tracker has the tempo
    assert len(late) >= 5 and np.abs(late - 1.2 * SPEC.frame_rate).max() <= 1  # 2 beats: 1.2 s


def test_energy_rises_on_a_percussive_passage_against_a_sustained_tone():
    beat = int(SR * 0.25)
    drums = np.zeros(6 * SR)
    for start in range(0, drums.size - 7000, beat):
        k = kick()
        drums[start:start + k.size] += k
    y = np.concatenate([tone(440, 6, 0.5), drums])  # the tone is louder than the kicks
    vector = EnergyVector(SPEC)
    energy, morph, cumulative = vector.process(frames_of(y)).T
    half = int(6 * SPEC.frame_rate)
    sustained, hits = energy[60:half], energy[half + 60:]
    assert hits.mean() > 5 * sustained.mean()
    # the morph: about linear through the tone (1/N a frame), in steps on the drums (several
    # N-ths on a kick, little between them); wraps (negative steps) left out
    n = vector.segment_frames(None)
    step = np.diff(morph) * n
    tone_steps, drum_steps = step[60:half], step[half + 60:]
    tone_steps, drum_steps = tone_steps[tone_steps > 0], drum_steps[drum_steps > 0]
    assert 0.8 < np.median(tone_steps) < 1.2 and tone_steps.max() < 2
    assert drum_steps.max() > 4 and np.median(drum_steps) < 0.6


def test_the_causal_split_adds_no_delay_to_a_click():
    from tests.bench.energy_latency import measure

    r = measure(60.0, positions=12)
    assert r["split_extra_frames_median"] == 0 and r["split_extra_frames_max"] <= 1
    assert r["energy"]["ms_max"] < 93  # within the analysis window (n_fft 2048 at 22050 Hz)
    # a sustained tone is a hit for a few frames only, fewer than a centred median would wait
    assert 0 < r["tone_misread_frames"] <= r["harmonic_frames"] // 2


class Recorder:
    drops = 0

    def __init__(self):
        self.sent = []

    def start(self):
        pass

    def send(self, values):
        self.sent.append((values["energy"], values["morph"]))

    def idle(self):
        pass

    def close(self):
        pass

    def describe(self):
        return "recorder"


def test_the_file_path_equals_the_live_engine(tmp_path):
    from bridge import load_audio

    y = load_audio(MUSIC / "nexuiz-neuronal-diving.ogg", sample_rate=48000)[:6 * 48000]
    path = tmp_path / "nexuiz-6s-48k.wav"
    write_wav(path, y * 0.9 / np.abs(y).max(), 48000)
    signals = SignalsStage(LIVE_SPEC)
    out = Recorder()
    engine = Engine(FileSource(path, speed=0, block_seconds=0.01),
                    [signals, energy_stage(LIVE_SPEC, [signals], segment="2b")], [out],
                    output_rate=60.0, realtime=False)
    engine.run()
    _, offline = energy_curves(path, LIVE_SPEC, segment="2b")
    live = np.array(out.sent)
    assert len(live) == len(offline) > 300
    assert np.array_equal(live, offline[:, [0, 2]])  # identical, not close
    assert (np.diff(offline[:, 2]) < 0).sum() >= 4  # morph wrapped: segments of 2 beats


def test_the_energy_command_writes_the_curves(tmp_path, capsys):
    out = tmp_path / "energy.csv"
    assert cli(["energy", str(MUSIC / "wesnoth-battle.ogg"), "--out", str(out),
                "--morph-segment", "1s"]) == 0
    assert "segments of 1 s" in capsys.readouterr().out
    with open(out) as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["time", "energy", "cumulative", "morph"]
    t, energy, cumulative, morph = np.array(rows[1:], dtype=float).T
    assert len(t) > 800 and np.allclose(np.diff(t), 368 / 22050, atol=1.5e-4)  # 6 digits
    assert ((energy >= 0) & (energy <= 1)).all() and np.ptp(energy) > 0.5
    assert (np.diff(cumulative) >= 0).all() and cumulative[-1] > 0
    assert ((morph >= 0) & (morph <= 1)).all()
    wraps = np.flatnonzero(np.diff(morph) < 0)  # 1.0, then the next segment starts near 0
    assert len(wraps) == 14 and (morph[wraps] > 0.999).all() and (morph[wraps + 1] < 0.1).all()
    assert np.allclose(np.diff(wraps), 60, atol=1)  # 1 s segments at 59.92 fps
    # a bad segment is one line naming the option
    assert cli(["energy", str(MUSIC / "wesnoth-battle.ogg"), "--out", str(out),
                "--morph-segment", "3 bars"]) == 1
    assert "--morph-segment '3 bars'" in capsys.readouterr().err


def test_predict_writes_the_energy_columns(tmp_path):
    from tests.models.helpers import write_model

    model = write_model(tmp_path / "m.onnx")
    out = tmp_path / "curves.csv"
    audio = MUSIC / "warzone-track4.opus"
    assert cli(["predict", str(model), str(audio), "--out", str(out), "--rate", "60"]) == 0
    with open(out) as fh:
        rows = list(csv.reader(fh))
    assert rows[0][-3:] == ["energy", "cumulative", "morph"]
    got = np.array(rows[1:], dtype=float)[:, -3:]
    _, want = energy_curves(audio, LIVE_SPEC)
    assert np.allclose(got, want, rtol=1e-5, atol=1e-6)  # the CSV's 6 significant digits
    assert cli(["predict", str(model), str(audio), "--out", str(out), "--no-energy"]) == 0
    assert "energy" not in out.read_text().splitlines()[0]


@pytest.mark.parametrize("text, want", [("4", (4.0, "beats")), ("4b", (4.0, "beats")),
                                        ("8 beats", (8.0, "beats")), ("2s", (2.0, "s")),
                                        ("0.5 s", (0.5, "s"))])
def test_segment_forms(text, want):
    assert parse_segment(text) == want


@pytest.mark.parametrize("text", ["0", "-2s", "nan", "2 bars", "", "100b", "1e9s"])
def test_bad_segments_are_refused(text):
    with pytest.raises(ConfigError, match="--morph-segment"):
        parse_segment(text)


def test_the_stage_is_added_only_when_routed(tmp_path):
    mapping = tmp_path / "m.yaml"
    mapping.write_text("version: 1\nosc:\n  td: {host: 127.0.0.1, port: 7000}\nroutes:\n"
                       "  - {signal: low, osc: {address: /low}}\n")
    stages, _, _ = build(LIVE_SPEC, mapping=str(mapping), models=[])
    assert not any(isinstance(s, EnergyStage) for s in stages)
    mapping.write_text(mapping.read_text() + "  - {signal: morph, osc: {address: /m}}\n")
    stages, _, _ = build(LIVE_SPEC, mapping=str(mapping), models=[], segment="3s")
    energy = [s for s in stages if isinstance(s, EnergyStage)]
    assert len(energy) == 1 and stages[-1] is energy[0]
    assert energy[0].vector.segment == (3.0, "s")
    assert energy[0].tempo.stages == [s for s in stages if isinstance(s, SignalsStage)]


def test_the_causal_energy_follows_librosas_hpss_on_real_music():
    from tests.bench.energy_reference import compare

    got = {p.name: compare(p) for p in sorted(MUSIC.glob("*.o*"))}
    for name, c in got.items():  # measured 0.73-0.94 (energy), 0.97-0.997 (cumulative)
        assert c["r_energy"] > 0.6, (name, c)
        assert c["r_cumulative"] > 0.94, (name, c)


def test_run_refuses_a_bad_segment_in_one_line(capsys):
    assert cli(["run", "--config", "none", "--demo", "--duration", "1",
                "--morph-segment", "2 bars"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--morph-segment '2 bars'" in err[0], err


def test_the_run_config_takes_a_segment():
    from bridge.runtime.runconfig import RunConfigError, validate_config

    assert validate_config({"morph_segment": 4})["morph_segment"] == "4"
    assert validate_config({"morph_segment": "2s"})["morph_segment"] == "2s"
    assert validate_config({})["morph_segment"] is None
    with pytest.raises(RunConfigError, match="morph_segment: give beats"):
        validate_config({"morph_segment": "3 bars"})
