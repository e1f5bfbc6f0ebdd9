"""The light recipe: a real (tiny) JAX training, its ONNX graph equal to JAX, refusal, resumption."""

import json

import numpy as np
import onnxruntime as ort
import pytest

pytest.importorskip("jax")
pytest.importorskip("optax")

from bridge.errors import ModelError  # noqa: E402
from bridge.models.onnx_model import OnnxModel  # noqa: E402
from bridge.models.runner import ModelRunner  # noqa: E402
from bridge.training import light as L  # noqa: E402
from bridge.training import light_cnn as cnn  # noqa: E402
from bridge.training.dataset import load_table  # noqa: E402
from bridge.training.study import context_features  # noqa: E402

FPS = 22050 / 2944  # the tiny dataset's rates are 4, 8 and this one
OPTS = L.LightOptions(epochs=2, batch=16, mlp_max_rows=1500, mlp_max_iter=5, labels=("mean",))


@pytest.fixture(scope="module")
def exported(tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("light") / "light-rgb.onnx"
    info = L.export_light(tiny_dataset, str(out), fps=FPS, opts=OPTS, log=lambda *_: None)
    return out, info


def test_random_graph_equals_the_jax_forward():
    """The graph builder alone, on untrained weights and rows far outside the training range."""
    cnn.limit_threads()
    ctx = cnn.context_for(24, (8.0, 32.0))
    layout = cnn.Layout.of(ctx)
    n_in = ctx.n_outputs()
    rng = np.random.default_rng(0)
    F = rng.normal(-30, 20, (300, n_in)).astype(np.float32)
    F[:, 64] = rng.random(300).astype(np.float32) * 0.3  # rms (its log is taken)
    F[:5, 64] = 0.0  # below the 1e-5 floor
    seq, dense = cnn.split_inputs(F, layout)
    params = cnn.init(window=24, n_dense=len(layout.dense_cols), seed=3)
    norm = cnn.normaliser(seq, dense)
    sess = ort.InferenceSession(cnn.to_onnx(params, norm, layout, n_in).SerializeToString(),
                                providers=["CPUExecutionProvider"])
    got = sess.run(None, {"features": F})[0]
    want = cnn.predict(params, norm, seq, dense)
    assert got.shape == (300, 3) and want.std() > 0.01
    assert np.abs(got - want).max() <= 1e-5


def test_export_writes_a_checked_colour_model(exported, tiny_dataset):
    out, info = exported
    assert info["max_abs_diff"] <= 1e-5 and info["held_back_rows"] >= 1
    model = OnnxModel.load(out)  # the live loader, unchanged
    assert model.names == ("r", "g", "b") and model.n_outputs == 3
    assert all(o.min == 0.0 and o.max == 1.0 for o in model.outputs)
    assert json.loads(model.metadata["colours"]) == [{"name": "colour",
                                                       "channels": ["r", "g", "b"]}]
    mean = json.loads(model.metadata["train_mean"])
    assert len(mean) == 3 and all(0 < v < 1 for v in mean)
    for key in ("spec_digest", "context", "train_data_hash", "cv_metrics", "format_version"):
        assert key in model.metadata
    assert model.spec.hop_length == 2944 and model.n_inputs == OPTS.context.n_outputs()
    # every model and metric was cross-validated on the same folds
    res = info["results"]["mean"]["models"]
    assert set(res) == set(L.MODELS)
    assert res["per-video mean"]["chroma_error"]["mean"] < res["constant"]["chroma_error"]["mean"]
    # the live runner streams it: colours in [0, 1] that move
    table = load_table(tiny_dataset, 2944)
    _, sl = table.video_slices()[0]
    pred = ModelRunner(model, model.spec).process(table.X[sl])
    assert pred.shape == (sl.stop - sl.start, 3)
    assert (pred >= 0).all() and (pred <= 1).all() and pred.std(axis=0).max() > 1e-4
    # and the graph equals the JAX forward of the cached final weights on every row
    F = context_features(table, model.context).astype(np.float32)
    got = model.predict(F)
    seq, dense = cnn.split_inputs(F, cnn.Layout.of(model.context))
    arrays = dict(np.load(f"{L.work_dir_for(str(out))}/mean__final.npz"))
    params = {k[2:]: v for k, v in arrays.items() if k.startswith("p:")}
    norm = {k[2:]: v for k, v in arrays.items() if k.startswith("n:")}
    assert np.abs(got - cnn.predict(params, norm, seq, dense)).max() <= 1e-5


def test_second_run_is_a_cache_hit(exported, tiny_dataset):
    out, first = exported
    blob = out.read_bytes()
    lines = []
    again = L.export_light(tiny_dataset, str(out), fps=FPS, opts=OPTS, log=lines.append)
    n_sections = len(L.MODELS) * first["folds"] + 1  # every fold of every model + the final fit
    assert again["resumed_sections"] == n_sections
    assert sum("resumed from" in line for line in lines) == n_sections
    assert out.read_bytes() == blob
    # other options are another key: the folder starts afresh instead of mixing results
    other = L.LightOptions(**{**OPTS.__dict__, "epochs": 1, "labels": ("mean",)})
    from bridge.training.study import Sections

    s = Sections(L.work_dir_for(str(out)) + "-probe", {"k": 1}, log=lambda *_: None)
    assert s.resumed == 0 and other != OPTS


def test_export_refuses_a_graph_that_differs_from_jax(exported, tiny_dataset, tmp_path,
                                                      monkeypatch):
    out, _ = exported
    real = cnn.to_onnx

    def off_by_a_little(params, norm, layout, n_inputs):
        bad = dict(params)
        bad["dense2_b"] = params["dense2_b"] + np.float32(1e-3)
        return real(bad, norm, layout, n_inputs)

    monkeypatch.setattr(cnn, "to_onnx", off_by_a_little)
    target = tmp_path / "bad.onnx"
    with pytest.raises(ModelError, match="disagree"):  # the cached folds: no retraining
        L.export_light(tiny_dataset, str(target), fps=FPS, opts=OPTS,
                       work=L.work_dir_for(str(out)), log=lambda *_: None)
    assert not target.exists()


def test_evaluate_scores_the_colour_beside_its_constant(exported, tiny_dataset):
    from bridge.training.evaluate import evaluate, markdown

    out, info = exported
    result = evaluate([str(out)], tiny_dataset, log=lambda *_: None)
    entry = result["colours"][out.name]["colour"]
    assert entry["label"] == "mean" and entry["channels"] == ["r", "g", "b"]
    const = entry["constant (training mean)"]
    assert const["r_brightness"] == 0.0 and const["jitter"] == 0.0
    assert entry["model"]["jitter"] > 0 and 0 < entry["model"]["cosine"] <= 1
    assert "## Colour `colour` of light-rgb.onnx" in markdown(result)
