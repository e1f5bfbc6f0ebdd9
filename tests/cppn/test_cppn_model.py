"""The CPPN as ONNX: the graph computes the network, carries its z spec, and refuses bad files;
fitting to an image trades audio sensitivity for PSNR."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from bridge.errors import ModelError, SpecMismatchError
from bridge.models.cppn import CppnModel, grid
from bridge.models.onnx_model import OnnxModel
from bridge.training import cppn
from tests.conftest import DATA

COVER = DATA.parent.parent / "onnx_models" / "cppn" / "cover.png"


def test_onnx_equals_the_network_and_carries_its_z_spec(tmp_path):
    path = tmp_path / "c.onnx"
    info = cppn.make_random(str(path), seed=7, n_z=12, width=16, depth=5)
    m = CppnModel.load(path)
    assert (m.n_z, m.width, m.depth) == (12, 16, 5) and info["depth"] == 5
    assert m.spec.n_mels == 12 and m.spec.hop_length == 735 and m.spec.n_fft == 1470
    assert m.norm["clip"] == 3.0 and m.norm["tau"] == 10.0
    c = grid(20, 10)
    z = cppn.latents(np.random.default_rng(0), 3, 12)
    got = m.frames(z, c)
    want = cppn.forward(cppn.init_params(7, n_z=12, width=16, depth=5), c, z)
    assert got.shape == (3, 200, 3) and np.abs(got - want).max() < 1e-5
    assert 0 <= got.min() and got.max() <= 1
    assert np.abs(got[0] - got[1]).mean() > 0.01  # z moves the picture


def test_bad_files_are_one_clear_error(tmp_path):
    path = tmp_path / "c.onnx"
    cppn.make_random(str(path), seed=1, n_z=8, width=8, depth=2)
    with pytest.raises(ModelError, match="a CPPN .*not a signal model; use it with `vjbridge render"):
        OnnxModel.load(path)  # a CPPN is no signal model
    model = onnx.load(str(path))
    for p in model.metadata_props:
        if p.key == "vjbridge.feature_spec":
            assert json.loads(p.value)["n_mels"] == 8
            p.value = p.value.replace('"n_mels":8', '"n_mels":9')
    onnx.save(model, str(tmp_path / "edited.onnx"))
    with pytest.raises(ModelError, match="bad CPPN metadata: .*the spec was edited"):
        CppnModel.load(tmp_path / "edited.onnx")
    with pytest.raises(ModelError, match="not a vjbridge CPPN"):
        CppnModel.load(DATA.parent.parent / "onnx_models" / "paper-ridge.onnx")
    with pytest.raises(SpecMismatchError, match="22050 Hz but the extractor runs at 44100"):
        CppnModel.load(path).check_servable(44100)


def test_fitting_raises_psnr_and_lowers_sensitivity():
    target = cppn.load_image(str(COVER), 32)
    params = cppn.init_params(0, n_z=8, width=16, depth=3)
    snaps, rows = cppn.fit(params, target, steps=200, checkpoints=(50,), log=lambda _: None)
    assert [r["steps"] for r in rows] == [0, 50, 200]
    psnr = [r["psnr"] for r in rows]
    sens = [r["sensitivity"] for r in rows]
    assert psnr[0] < psnr[1] < psnr[2] and psnr[2] > psnr[0] + 6, psnr
    assert sens[2] < sens[0] * 0.7, sens
