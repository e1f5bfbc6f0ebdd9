"""Loading vjbridge ONNX models: metadata read and checked; bad files are one clear ModelError."""

import numpy as np
import onnx
import pytest
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.linear_model import Ridge

from bridge.cli import main
from bridge.errors import ModelError
from bridge.models.onnx_model import OnnxModel
from tests.models.helpers import CTX, SHIP_SPEC, write_model


def test_load_reads_metadata_and_predicts(tmp_path):
    m = OnnxModel.load(write_model(tmp_path / "m.onnx"))
    assert m.spec == SHIP_SPEC and m.context == CTX
    assert m.names == ("motion", "weight") and m.n_inputs == CTX.n_outputs()
    assert m.predict(np.zeros((3, m.n_inputs))).shape == (3, 2)
    with pytest.raises(ValueError, match="expects"):
        m.predict(np.zeros((1, 5)))


def _one_line(exc):
    text = str(exc.value)
    assert "\n" not in text and len(text) < 400
    return text


def test_missing_file(tmp_path):
    with pytest.raises(ModelError) as e:
        OnnxModel.load(tmp_path / "nope.onnx")
    assert "no such model file" in _one_line(e)


def test_corrupt_file(tmp_path):
    p = tmp_path / "bad.onnx"
    p.write_bytes(b"this is not protobuf" * 50)
    with pytest.raises(ModelError) as e:
        OnnxModel.load(p)
    assert "not a readable ONNX model" in _one_line(e)


def test_truncated_file(tmp_path):
    good = write_model(tmp_path / "m.onnx")
    data = open(good, "rb").read()
    p = tmp_path / "cut.onnx"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError):
        OnnxModel.load(p)


def test_plain_onnx_is_not_a_vjbridge_model(tmp_path):
    model = Ridge().fit(np.random.default_rng(0).normal(size=(20, 4)), np.arange(20.0))
    onx = convert_sklearn(model, initial_types=[("features", FloatTensorType([None, 4]))])
    p = tmp_path / "plain.onnx"
    p.write_bytes(onx.SerializeToString())
    with pytest.raises(ModelError) as e:
        OnnxModel.load(p)
    assert "not a vjbridge model" in _one_line(e)


def test_tampered_spec_digest(tmp_path):
    p = write_model(tmp_path / "m.onnx")
    onx = onnx.load(p)
    for prop in onx.metadata_props:
        if prop.key == "vjbridge.spec_digest":
            prop.value = "0" * 64
    onnx.save(onx, p)
    with pytest.raises(ModelError) as e:
        OnnxModel.load(p)
    assert "spec_digest" in _one_line(e)


def test_cli_prints_one_line_and_exits_1(tmp_path, capsys):
    p = tmp_path / "bad.onnx"
    p.write_bytes(b"junk")
    wav = tmp_path / "x.wav"
    assert main(["predict", str(p), str(wav), "--out", str(tmp_path / "c.csv")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vjbridge predict: error:")
