"""A small real ONNX model with vjbridge metadata, fitted on random rows (no dataset needed)."""

import numpy as np

from bridge.audio.spec import FeatureSpec
from bridge.models.context import ContextSpec
from bridge.training.export import to_onnx, with_metadata
from bridge.training.study import make_model

SHIP_SPEC = FeatureSpec(fps=22050 / 2944)  # hop 2944 = 8 x the 60 Hz live hop 368
CTX = ContextSpec(channels=("loud", "low", "rms_db", "onset"), lags=(1, 3), delta=True,
                  taus=(4.0, 16.0), zscore=True)


def write_model(path, *, spec=SHIP_SPEC, context=CTX, kind="Ridge", seed=0, **edits) -> str:
    n_in = context.n_outputs(spec.n_features)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, n_in))
    X[:, :64] = rng.normal(-40, 15, (400, 64))
    w = rng.normal(size=(n_in, 2)) / np.sqrt(n_in)
    y = np.tanh(X / (np.abs(X).max(axis=0) + 1)) @ w
    model = make_model(kind, quick=True).fit(X, y)
    outputs = [{"name": "motion", "min": -2.0, "max": 2.0, "description": "test"},
               {"name": "weight", "min": -2.0, "max": 2.0, "description": "test"}]
    blob = with_metadata(to_onnx(model, n_in, 2), spec=spec, context=context, outputs=outputs,
                         train_data_hash="test", cv_metrics={}, **edits)
    with open(path, "wb") as f:
        f.write(blob)
    return str(path)
