"""The CPPN's GLSL TOP shader: compiled by glslang, rendered headless (EGL, Mesa llvmpipe) and
compared with the ONNX frame of the same z: within 2/255 per channel."""

from __future__ import annotations

import numpy as np
import pytest

from bridge.cli import main
from bridge.errors import ModelError
from bridge.models.cppn import CppnModel, grid
from bridge.training import cppn
from bridge.video import glsl
from tests.conftest import DATA

ROOT = DATA.parent.parent
SHIPPED = ROOT / "td_components" / "cppn"


def _onnx_frame(model, z, size):
    rgb = CppnModel.load(model).frames(z[None], grid(size))[0].reshape(size, size, 3)
    return (rgb * 255 + 0.5).astype(np.uint8)


@pytest.mark.peers
@pytest.mark.slow
@pytest.mark.parametrize("model", ["random-seed0.onnx", "cover-300.onnx"])
def test_glsl_render_agrees_with_onnx_within_2_of_255(tmp_path, model):
    path = ROOT / "onnx_models" / "cppn" / model
    out = tmp_path / "cppn.glsl"
    assert main(["cppn", "export-glsl", str(path), "--out", str(out)]) == 0
    shader = out.read_text()
    glsl.validate(shader)  # glslang, as rendered below (GLSL 3.30)
    glsl.validate(shader, "460")  # and as TouchDesigner's GLSL TOP compiles by default
    rng = np.random.default_rng(11)
    frames = []
    for z in cppn.latents(rng, 2, 32):
        got = glsl.render(shader, z, 48).astype(int)
        want = _onnx_frame(path, z, 48).astype(int)
        assert np.abs(got - want).max() <= 2, np.abs(got - want).max()
        frames.append(got)
    assert np.abs(frames[0] - frames[1]).mean() > 1  # the uniform z reaches the shader


@pytest.mark.peers
def test_glslang_rejects_a_broken_shader_with_its_log():
    with pytest.raises(ModelError, match="glslang rejects the shader"):
        glsl.validate("void main() { fragColor = vec4(undefined_thing); }\n")


def test_the_shipped_shaders_are_their_models_exported():
    for name in ("random-seed0", "cover-300"):
        shipped = (SHIPPED / f"{name}.glsl").read_text()
        assert shipped == glsl.shader_source(str(ROOT / "onnx_models" / "cppn" / f"{name}.onnx"))
