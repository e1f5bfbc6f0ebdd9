"""The CPPN as a GLSL pixel shader (TouchDesigner GLSL TOP), and a headless check of it.

Why bake the weights in: a TouchDesigner GLSL TOP takes a shader file and uniforms; the CPPN's
few thousand weights become ``const float`` arrays in the shader (``vjbridge cppn export-glsl
MODEL``), and only ``z`` changes per frame: the uniform array ``uZ`` (32 floats), which the GLSL
TOP's Arrays page fills from the CHOP channels of ``/vjbridge/z``. The shader evaluates the same
network per pixel as the ONNX graph: ``x`` across and ``y`` down in [-1, 1] (``vUV``, the TOP's
top row is ``y = -1`` as in the rendered video), the radius, ``tanh`` (written out with ``exp`` of
a negative argument: no overflow), a sigmoid.

TouchDesigner prepends its own ``#version``, ``vUV`` and ``TDOutputSwizzle``; :data:`PRELUDE`
stands in for them where the shader is compiled by glslang (``glslangValidator``) or rendered by
``glsl_render.cpp`` (EGL pbuffer, Mesa llvmpipe, no X server), so the tests check the file a user
loads, byte for byte.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from bridge.errors import ConfigError, ModelError

SOURCE = Path(__file__).with_name("glsl_render.cpp")
APT_LINE = ("apt-get install -y libegl-dev libgl-dev libegl-mesa0 libgl1-mesa-dri g++ pkg-config "
            "glslang-tools")
#: What TouchDesigner's GLSL TOP provides a pixel shader, for compiling it elsewhere.
PRELUDE = ("#version 330 core\n"
           "uniform vec2 uRes;\n"
           "#define vUV vec3(gl_FragCoord.xy / uRes, 0.0)\n"
           "vec4 TDOutputSwizzle(vec4 c) { return c; }\n")


def _weights(model_path: str) -> list[np.ndarray]:
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise ConfigError("export-glsl reads the model with the onnx package: pip install "
                          "'vjbridge[train]'") from None
    from bridge.models.cppn import CppnModel

    model = CppnModel.load(model_path)  # the checks: a CPPN with its z spec
    inits = {t.name: numpy_helper.to_array(t) for t in onnx.load(model_path).graph.initializer}
    names = ["Wc", "Wz", "b0"] + [n for i in range(1, model.depth)
                                  for n in (f"W{i}", f"b{i}")] + ["Wo", "bo"]
    missing = [n for n in names if n not in inits]
    if missing:
        raise ModelError(f"{model_path}: not a graph from `vjbridge cppn` (no {missing[0]})")
    return [inits[n].astype(np.float32) for n in names], model


def _array(name: str, a: np.ndarray) -> str:
    flat = a.reshape(-1)
    body = ",".join(f"{v:.9g}" for v in flat)
    return f"const float {name}[{flat.size}] = float[{flat.size}]({body});\n"


def shader_source(model_path: str) -> str:
    """The GLSL TOP pixel shader of the CPPN at ``model_path`` (weights baked in)."""
    weights, model = _weights(model_path)
    nz, w, depth = model.n_z, model.width, model.depth
    L = [f"// vjbridge CPPN (NeuroMV) for a TouchDesigner GLSL TOP: {os.path.basename(model_path)}\n"
         f"// made by `vjbridge cppn export-glsl`; {depth} tanh layers of {w}, z = {nz} floats.\n"
         f"// Arrays page: a uniform array uZ ({nz} floats) from the CHOP channels of /vjbridge/z.\n"
         f"uniform float uZ[{nz}];\n",
         "layout(location = 0) out vec4 fragColor;\n",
         _array("WC", weights[0]), _array("WZ", weights[1]), _array("B0", weights[2])]
    for i in range(1, depth):
        L += [_array(f"W{i}", weights[2 * i + 1]), _array(f"B{i}", weights[2 * i + 2])]
    L += [_array("WO", weights[-2]), _array("BO", weights[-1]),
          "float th(float x) { float t = exp(-2.0 * abs(x)); return sign(x) * (1.0 - t) / (1.0 + t); }\n",
          "void main() {\n",
          "  vec2 p = vec2(vUV.s * 2.0 - 1.0, (1.0 - vUV.t) * 2.0 - 1.0);\n",
          "  float r = length(p);\n",
          f"  float h[{w}];\n  float g[{w}];\n",
          f"  for (int k = 0; k < {w}; ++k) {{\n",
          f"    float a = B0[k] + p.x * WC[k] + p.y * WC[{w} + k] + r * WC[{2 * w} + k];\n",
          f"    for (int i = 0; i < {nz}; ++i) a += uZ[i] * WZ[i * {w} + k];\n",
          "    h[k] = th(a);\n  }\n"]
    for i in range(1, depth):
        L += [f"  for (int k = 0; k < {w}; ++k) {{\n",
              f"    float a = B{i}[k];\n",
              f"    for (int j = 0; j < {w}; ++j) a += h[j] * W{i}[j * {w} + k];\n",
              "    g[k] = th(a);\n  }\n",
              f"  for (int k = 0; k < {w}; ++k) h[k] = g[k];\n"]
    L += ["  vec3 c;\n",
          "  for (int k = 0; k < 3; ++k) {\n",
          "    float a = BO[k];\n",
          f"    for (int j = 0; j < {w}; ++j) a += h[j] * WO[j * 3 + k];\n",
          "    c[k] = 1.0 / (1.0 + exp(-a));\n  }\n",
          "  fragColor = TDOutputSwizzle(vec4(c, 1.0));\n}\n"]
    return "".join(L)


def export_glsl(model_path: str, out: str) -> str:
    text = shader_source(model_path)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        f.write(text)
    return f"{out}: GLSL TOP pixel shader ({len(text) // 1024} KB); feed uZ from /vjbridge/z"


# ---- checking it without TouchDesigner ---------------------------------------------------------------
def validate(shader: str, version: str = "330 core") -> None:
    """Compile ``shader`` (with :data:`PRELUDE` at GLSL ``version``: 330 as rendered here, 460 as
    TouchDesigner's Vulkan builds default to) with glslang; a failure raises with its log."""
    exe = shutil.which("glslangValidator")
    if exe is None:
        raise ConfigError(f"glslangValidator not found: {APT_LINE}")
    with tempfile.NamedTemporaryFile("w", suffix=".frag", delete=False) as f:
        f.write(PRELUDE.replace("330 core", version, 1) + shader)
    try:
        out = subprocess.run([exe, f.name], capture_output=True, text=True, timeout=120)
    finally:
        os.unlink(f.name)
    if out.returncode != 0:
        raise ModelError(f"glslang rejects the shader: {out.stdout.strip()[:400]}")


def renderer_path() -> Path:
    """``glsl_render`` compiled into the user cache (rebuilt when the source changes)."""
    from bridge.training.corpus.renderer import cache_dir

    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
    target = cache_dir() / f"glsl-{digest}" / "glsl_render"
    if target.exists():
        return target
    if shutil.which("g++") is None or shutil.which("pkg-config") is None:
        raise ConfigError(f"building the GLSL check needs g++ and pkg-config: {APT_LINE}")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "egl", "gl"], capture_output=True,
                           text=True)
    if flags.returncode != 0:
        raise ConfigError(f"EGL/GL development files not found: {APT_LINE}")
    target.parent.mkdir(parents=True, exist_ok=True)
    private = target.with_name(f"glsl_render.{os.getpid()}.tmp")
    built = subprocess.run(["g++", "-O2", "-std=c++17", "-o", str(private), str(SOURCE),
                            *flags.stdout.split()], capture_output=True, text=True)
    if built.returncode != 0:
        private.unlink(missing_ok=True)
        raise ConfigError(f"compiling glsl_render failed: {built.stderr.strip()[:300]}")
    os.replace(private, target)
    return target


def render(shader: str, z: np.ndarray, size: int) -> np.ndarray:
    """One ``(size, size, 3)`` uint8 frame of ``shader`` at latent ``z``, headless (EGL)."""
    exe = renderer_path()
    env = dict(os.environ, EGL_PLATFORM="surfaceless")
    with tempfile.TemporaryDirectory() as d:
        frag, zf, out = (os.path.join(d, n) for n in ("s.frag", "z.f32", "out.rgb"))
        with open(frag, "w") as f:
            f.write(PRELUDE + shader)
        np.asarray(z, np.float32).tofile(zf)
        run = subprocess.run([str(exe), "--shader", frag, "--z", zf, "--size", str(size),
                              "--out", out], capture_output=True, text=True, env=env, timeout=300)
        if run.returncode != 0:
            raise ModelError(f"glsl_render failed ({run.returncode}): {run.stderr.strip()[:400]}")
        return np.fromfile(out, np.uint8).reshape(size, size, 3)
