"""`vjbridge evaluate`: real exported ONNX models scored on a real dataset, checked by hand."""

import json
from pathlib import Path

import numpy as np
import pytest

from bridge.cli import main
from bridge.models.onnx_model import OnnxModel
from bridge.models.predict import predict_file
from bridge.training.dataset import build_dataset, load_table
from bridge.training.evaluate import run_model
from bridge.training.study import context_features, per_video_z

HOP = 2944  # the shipped models' hop (22050 / 2944 = 7.49 fps)


@pytest.fixture(scope="module")
def models(tiny_dataset, tmp_path_factory):
    """The two shipped recipes exported from the tiny synthetic dataset (real skl2onnx graphs)."""
    root = tmp_path_factory.mktemp("models")
    out = []
    for recipe in ("default", "paper"):
        path = root / f"{recipe}.onnx"
        assert main(["export", tiny_dataset, "--out", str(path), "--recipe", recipe]) == 0
        out.append(str(path))
    return out


def _r(a, b):
    return float(np.corrcoef(a, b)[0, 1])


def test_evaluate_command_matches_a_direct_computation(tiny_dataset, models, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["evaluate", *models, tiny_dataset, "--out", str(out), "--title", "tiny"]) == 0
    printed = capsys.readouterr().out
    assert "motion" in printed and "raw RMS" in printed
    result = json.loads((out / "results.json").read_text())
    report = (out / "report.md").read_text()
    assert report.startswith("# tiny") and "## motion" in report and "## weight" in report

    table = load_table(tiny_dataset, HOP)
    slices = table.video_slices()
    assert result["data"]["videos"] == len(slices) == 8
    Z = per_video_z(table.Y, table.video, table.valid)
    for path in models:
        model = OnnxModel.load(path)
        # by hand: a fresh live runner per video, fed the video's frames from its start
        pred = np.concatenate([run_model(model, table.X[sl]) for _, sl in slices])
        # the offline training path (stored float32 onset instead of the runner's float64
        # recomputation: ~2e-6 apart, which can flip a boosted tree's branch on a few rows)
        offline = model.predict(context_features(table, model.context))
        for j, target in enumerate(model.names):
            got = result["targets"][target]["predictors"][Path(path).name]
            ti = list(table.target_names).index(target)
            want = [_r(pred[sl, j][table.valid[sl]], table.Y[sl, ti][table.valid[sl]])
                    for _, sl in slices]
            assert np.allclose(got["r_per_video"], want, atol=1e-9)
            assert got["r_mean"] == pytest.approx(np.mean(want), abs=1e-9)
            assert got["r_std"] == pytest.approx(np.std(want), abs=1e-9)
            near = [_r(offline[sl, j][table.valid[sl]], table.Y[sl, ti][table.valid[sl]])
                    for _, sl in slices]
            assert np.allclose(got["r_per_video"], near, atol=5e-3)
            lo, hi = got["r_ci95_by_group"]
            assert lo <= got["r_mean"] <= hi
            v = table.valid
            if got["r2_space"] == "z":  # the default recipe: per-video z-scored targets
                y = Z[v, ti]
            else:  # the paper recipe: raw targets
                y = table.Y[v, ti].astype(np.float64)
            r2 = 1 - ((y - pred[v, j]) ** 2).sum() / ((y - y.mean()) ** 2).sum()
            assert got["r2"] == pytest.approx(r2, abs=1e-6)
    assert [m["target_space"] for m in result["models"]] == ["z", "raw"]
    assert all(m["same_data_as_training"] for m in result["models"])
    assert "this is its training data" in report
    # the baselines are the dataset's own RMS and onset columns
    rms = result["targets"]["motion"]["predictors"]["raw RMS"]
    want = [_r(table.X[sl, -2][table.valid[sl]], table.Y[sl, 0][table.valid[sl]]) for _, sl in slices]
    assert np.allclose(rms["r_per_video"], want, atol=1e-9)
    default = result["targets"]["motion"]["predictors"]["default.onnx"]
    assert default["beats"]["raw RMS"] == [
        sum(a > b for a, b in zip(default["r_per_video"], rms["r_per_video"])), 8]
    assert "videos vs raw RMS" in report
    # the synthetic bars follow loudness, so a model trained on them beats nothing only by a bug
    assert result["targets"]["motion"]["predictors"]["default.onnx"]["r_mean"] > 0.3


def test_predictions_are_the_live_predict_path(tiny_dataset, models):
    """run_model over the dataset's frames = `vjbridge predict` decoding the video's audio itself."""
    table = load_table(tiny_dataset, HOP)
    model = OnnxModel.load(models[0])
    vi, sl = table.video_slices()[0]
    ours = run_model(model, table.X[sl])
    _, live, _ = predict_file(models[0], table.videos[vi]["path"])
    assert live.shape == ours.shape
    # the extractor's own frames of the video's audio read as the dataset reads it (the
    # whole-file resampling kernel: whole_file=True), rounded as the dataset stores them (float32),
    # give exactly our predictions: the same runner, spec and context
    from bridge.audio.decode import iter_audio
    from bridge.audio.features import FeatureExtractor

    extractor = FeatureExtractor(model.spec)
    frames = np.concatenate([extractor.process(b) for b in iter_audio(
        table.videos[vi]["path"], sample_rate=22050, whole_file=True)])
    assert np.array_equal(run_model(model, frames.astype(np.float32)), ours)
    # unrounded (float64, as live) the features move by < 1e-5, which flips a boosted tree's
    # branch on a few rows; the curves stay the same curve
    assert np.abs(frames - table.X[sl]).max() < 1e-4
    assert (np.abs(live - ours).max(axis=1) < 1e-4).mean() > 0.8
    assert np.corrcoef(live[:, 0], ours[:, 0])[0, 1] > 0.98


def test_a_dataset_without_the_models_rate_is_one_line_and_exit_1(tiny_dataset, models, tmp_path,
                                                                    capsys):
    videos = sorted((Path(tiny_dataset).parent / "videos").glob("*.mkv"))[:2]
    data = tmp_path / "data4"
    build_dataset([str(v) for v in videos], str(data), fps=[4], jobs=1, progress=False)
    assert main(["evaluate", models[0], str(data)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "7.4898 fps" in err[0] and "hop 2944" in err[0] and "--fps 7.4898" in err[0]
    assert main(["evaluate", str(data)]) == 1  # no model given
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert main(["evaluate", str(data), models[0]]) == 1  # DATA first
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "last argument must be the DATA folder" in err[0]
    assert main(["evaluate", models[0], str(tmp_path)]) == 1  # not a dataset
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "vjbridge dataset" in err[0]


def test_a_model_with_other_features_than_the_dataset_is_refused(tiny_dataset, models):
    from bridge.errors import SpecMismatchError
    from bridge.training.evaluate import matching_hop

    model = OnnxModel.load(models[0])
    assert matching_hop(model, tiny_dataset) == HOP
    model.spec = model.spec.replace(fmax=8000.0)  # same hop, another mel bank
    with pytest.raises(SpecMismatchError, match="fmax"):
        matching_hop(model, tiny_dataset)
