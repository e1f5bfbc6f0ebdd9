"""The streaming runner: every live frame equals the offline model on the phase-shifted stream."""

import numpy as np
import pytest

from bridge.audio.demo import DemoMusic
from bridge.audio.features import FeatureExtractor
from bridge.audio.spec import FeatureSpec
from bridge.cli import main
from bridge.errors import SpecMismatchError
from bridge.models.context import ContextBuilder
from bridge.models.onnx_model import OnnxModel
from bridge.models.runner import ModelRunner
from tests.models.helpers import SHIP_SPEC, write_model

LIVE = FeatureSpec(fps=60)  # hop 368


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return OnnxModel.load(write_model(tmp_path_factory.mktemp("m") / "m.onnx"))


@pytest.fixture(scope="module")
def audio():
    return DemoMusic(22050).read(22050 * 8)


def test_outputs_at_every_phase_equal_offline_predictions(model, audio):
    assert LIVE.hop_length == 368 and SHIP_SPEC.hop_length == 2944
    runner = ModelRunner(model, LIVE)
    assert runner.ratio == 8
    live = runner.process(FeatureExtractor(LIVE).process(audio))
    for p in range(8):
        feats = FeatureExtractor(SHIP_SPEC).process(audio[p * 368:])
        offline = model.predict(ContextBuilder(model.context).process(feats))
        got = live[p::8][: len(offline)]
        assert len(offline) > 40 and len(got) == len(offline)
        assert np.abs(got - offline).max() <= 1e-5, p


def test_runner_is_chunk_invariant(model, audio):
    frames = FeatureExtractor(LIVE).process(audio)
    whole = ModelRunner(model, LIVE).process(frames)
    runner = ModelRunner(model, LIVE)
    rng = np.random.default_rng(0)
    parts, i = [], 0
    while i < len(frames):
        k = int(rng.integers(0, 20))
        parts.append(runner.process(frames[i:i + k]))
        i += k
    assert np.abs(np.concatenate(parts) - whole).max() <= 1e-6  # float32 GEMM batching only
    runner.reset()
    assert np.abs(runner.process(frames[:50]) - whole[:50]).max() <= 1e-6


def test_same_rate_runner_is_the_offline_model(model, audio):
    feats = FeatureExtractor(SHIP_SPEC).process(audio)
    offline = model.predict(ContextBuilder(model.context).process(feats))
    assert np.abs(ModelRunner(model, SHIP_SPEC).process(feats) - offline).max() <= 1e-9


def test_incompatible_live_specs_are_refused(model):
    with pytest.raises(SpecMismatchError, match="not a multiple"):
        ModelRunner(model, FeatureSpec(fps=50))  # hop 441
    with pytest.raises(SpecMismatchError, match="n_mels"):
        ModelRunner(model, FeatureSpec(fps=60, n_mels=40))
    with pytest.raises(SpecMismatchError, match="sample_rate"):
        ModelRunner(model, FeatureSpec(fps=60, sample_rate=44100))


def test_predict_command_writes_curves(model, audio, tmp_path):
    import av

    wav = tmp_path / "music.wav"
    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    with av.open(str(wav), "w") as out:
        s = out.add_stream("pcm_s16le", rate=22050)
        s.layout = "mono"
        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        frame.sample_rate = 22050
        for pkt in s.encode(frame):
            out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    csv = tmp_path / "curves.csv"
    assert main(["predict", model.path, str(wav), "--out", str(csv), "--rate", "60"]) == 0
    lines = csv.read_text().splitlines()
    assert lines[0] == "time,motion,weight,energy,cumulative,morph"  # + the energy vector
    rows = np.loadtxt(csv, delimiter=",", skiprows=1)
    assert len(rows) == LIVE.n_frames_for(len(audio))
    assert np.allclose(rows[:, 0], LIVE.frame_end_times(len(rows)), atol=1e-5)
    decoded = pcm / 32768.0  # what the decoder returns for s16 samples
    expect = ModelRunner(model, LIVE).process(FeatureExtractor(LIVE).process(decoded))
    assert np.allclose(rows[:, 1:3], expect, rtol=1e-5, atol=1e-5)  # CSV keeps 6 digits
