"""`vjbridge export`: real ONNX files, loaded with onnxruntime, equal to scikit-learn."""

import json

import numpy as np
import onnxruntime as ort
import pytest

from bridge.cli import main
from bridge.commands.export import RECIPE_NAMES
from bridge.errors import ModelError
from bridge.models.context import DEFAULT
from bridge.models.onnx_model import OnnxModel
from bridge.training import export as E
from bridge.training.dataset import load_table
from bridge.training.study import context_features, make_model

KEYS = ("feature_spec", "spec_digest", "context", "outputs", "train_data_hash", "cv_metrics",
        "format_version")


def test_recipe_names_match():
    assert sorted(E.RECIPES) == sorted(RECIPE_NAMES)


@pytest.mark.parametrize("recipe", ["default", "paper"])
def test_export_writes_a_checked_self_describing_graph(tiny_dataset, tmp_path, recipe):
    out = tmp_path / f"{recipe}.onnx"
    assert main(["export", tiny_dataset, "--out", str(out), "--recipe", recipe]) == 0
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    props = sess.get_modelmeta().custom_metadata_map
    for key in KEYS:
        assert f"vjbridge.{key}" in props
    n_in = 66 if recipe == "paper" else DEFAULT.n_outputs()
    assert sess.get_inputs()[0].name == "features"
    assert sess.get_inputs()[0].shape[1] == n_in and sess.get_outputs()[0].shape[1] == 2
    assert [o["name"] for o in json.loads(props["vjbridge.outputs"])] == ["motion", "weight"]
    info = json.loads((tmp_path / f"{recipe}.metrics.json").read_text())
    assert info["max_abs_diff"] <= 1e-5 and info["held_back_rows"] >= 1
    model = OnnxModel.load(out)
    assert model.spec.hop_length == 2944 and model.n_inputs == n_in
    # the shipped spec's numbers: the graph reproduces a fresh scikit-learn fit on the same rows
    table = load_table(tiny_dataset, 2944)
    F = context_features(table, model.context).astype(np.float32)
    assert np.isfinite(model.predict(F)).all()


def test_hist_gradient_boosting_converts_and_matches_sklearn(tiny_dataset):
    """The two HGB traps: a bool attribute onnx rejects, and float64 thresholds vs float32 inputs."""
    table = load_table(tiny_dataset, 2756)
    F = context_features(table, DEFAULT).astype(np.float32).astype(np.float64)
    y = table.Y[:, :2].astype(np.float64)
    model = E._multi("HistGradientBoosting", quick=True, max_iter=40).fit(F, y)
    onx = E.to_onnx(model, F.shape[1], 2)
    sess = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"features": F.astype(np.float32)})[0]
    assert np.abs(got - model.predict(F)).max() <= 1e-5


def test_export_refuses_to_write_when_onnx_disagrees(tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.setattr(E, "TOLERANCE", 0.0)
    out = tmp_path / "x.onnx"
    with pytest.raises(ModelError, match="disagree"):
        E.export(tiny_dataset, str(out), recipe=E.RECIPES["default"], fps=22050 / 2944,
                 log=lambda *_: None)
    assert not out.exists()


def test_card_is_written(tiny_dataset, tmp_path):
    out = tmp_path / "m.onnx"
    assert main(["export", tiny_dataset, "--out", str(out), "--card"]) == 0
    card = (tmp_path / "m.md").read_text()
    assert "within-video r" in card and "## Rebuild" in card and "motion" in card


# ---- end to end on a real visualizer: projectM renders of real music -> dataset -> study -> model
PRESET = "presets_stock/Geiss - Cepiasound.milk"  # follows the bass (corpus screening)


@pytest.fixture(scope="module")
def projectm_dataset(tmp_path_factory):
    from pathlib import Path

    from bridge.audio.decode import load_audio
    from bridge.training.corpus.renderer import frame_bounds, render_frames
    from bridge.training.corpus.video import ClipWriter
    from bridge.training.dataset import build_dataset

    root = tmp_path_factory.mktemp("projectm")
    music = sorted((Path(__file__).parents[1] / "data" / "music").glob("*.o*"))
    assert len(music) == 3, music
    sr, fps = 22050, 30
    for f in music:
        audio = load_audio(f, sample_rate=sr).astype(np.float32)
        with ClipWriter(root / f"{f.stem}.mkv", size=64, fps=fps, sample_rate=sr) as writer:
            for i, frame in enumerate(render_frames(PRESET, audio, sample_rate=sr, fps=fps, size=64)):
                a, b = frame_bounds(i, fps=fps, sample_rate=sr)
                writer.write(frame, audio[a:b])
    build_dataset([str(root)], str(root / "data"), fps=[16, 22050 / 2944], jobs=2, progress=False)
    return str(root / "data"), [str(m) for m in music]


def test_projectm_motion_follows_the_audio_at_lag_zero(projectm_dataset):
    """The alignment on a real visualizer: motion correlates best with RMS at lag 0, not +-1 frame."""
    table = load_table(projectm_dataset[0], 1378)
    for vi, sl in table.video_slices():
        motion, rms, keep = table.Y[sl, 0], table.X[sl, 64], table.valid[sl].copy()
        keep[:3] = keep[-3:] = False
        r = {lag: np.corrcoef(motion[keep], np.roll(rms, lag)[keep])[0, 1] for lag in (-1, 0, 1)}
        assert r[0] > 0.2 and r[0] > r[-1] + 0.03 and r[0] > r[1] + 0.03, (table.videos[vi], r)


def test_projectm_study_export_load_predict(projectm_dataset, tmp_path):
    data, music = projectm_dataset
    assert main(["study", data, "--fps", "16", "--out", str(tmp_path / "r"), "--quick"]) == 0
    assert "Table 1" in (tmp_path / "r" / "report.md").read_text()
    onnx_path = tmp_path / "m.onnx"
    assert main(["export", data, "--out", str(onnx_path)]) == 0
    model = OnnxModel.load(onnx_path)
    assert model.names == ("motion", "weight") and model.spec.hop_length == 2944
    csv = tmp_path / "curves.csv"
    assert main(["predict", str(onnx_path), music[0], "--out", str(csv), "--rate", "60"]) == 0
    rows = np.loadtxt(csv, delimiter=",", skiprows=1)
    assert rows.shape[1] == 6 and len(rows) > 60 * 10 and np.isfinite(rows).all()  # + energy
