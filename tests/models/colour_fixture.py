"""A real small ONNX light model for the colour tests, written with onnx.helper.

Why not the trained light model: it is trained on another branch; this graph follows the same
contract (outputs r, g, b in linear RGB 0..1 and ``vjbridge.colours`` naming them) so the live
side is tested on a real onnxruntime session. ``r`` follows the bass bands, ``g`` the mids, ``b``
the treble (a sigmoid of each band group's mean dB), so the colour moves with the music.
"""

from __future__ import annotations

import json

import numpy as np

from bridge.audio.spec import FeatureSpec
from bridge.models.context import ContextSpec
from bridge.models.onnx_model import FORMAT_VERSION

LIVE = FeatureSpec(fps=60.0)
COLOURS = [{"name": "colour", "channels": ["r", "g", "b"]}]
_OUTPUTS = [{"name": n, "min": 0.0, "max": 1.0, "description": f"light colour channel {n}"}
            for n in ("r", "g", "b")]


def write_colour_model(path, *, colours=COLOURS, outputs=None, raw_colours: str | None = None,
                       spec: FeatureSpec = LIVE) -> str:
    """Write the model to ``path``; ``colours`` (JSON-able) or ``raw_colours`` (the metadata text
    as is, e.g. not JSON) for ``vjbridge.colours``, ``colours=None``: no key."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    context = ContextSpec()
    n_in = context.n_outputs(spec.n_features)
    outputs = _OUTPUTS if outputs is None else outputs
    w = np.zeros((n_in, len(outputs)), dtype=np.float32)
    bias = np.zeros(len(outputs), dtype=np.float32)
    groups = [(0, 12, 8.0), (20, 40, 24.0), (44, 64, 38.0)]  # about each group's mean dB in music
    for j in range(len(outputs)):
        lo, hi, offset = groups[j % 3]
        w[lo:hi, j] = 1.0 / ((hi - lo) * 6.0)  # mean dB / 6
        bias[j] = offset / 6.0
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["features", "W"], ["xw"]),
         helper.make_node("Add", ["xw", "B"], ["z"]),
         helper.make_node("Sigmoid", ["z"], ["rgb"])],
        "colour_fixture",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["n", n_in])],
        [helper.make_tensor_value_info("rgb", TensorProto.FLOAT, ["n", len(outputs)])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(bias, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    meta = {"vjbridge.format_version": str(FORMAT_VERSION),
            "vjbridge.feature_spec": spec.to_json(), "vjbridge.spec_digest": spec.digest,
            "vjbridge.context": context.to_json(), "vjbridge.outputs": json.dumps(outputs),
            "vjbridge.train_data_hash": "fixture", "vjbridge.cv_metrics": "{}"}
    if raw_colours is not None:
        meta["vjbridge.colours"] = raw_colours
    elif colours is not None:
        meta["vjbridge.colours"] = json.dumps(colours)
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    return str(path)
