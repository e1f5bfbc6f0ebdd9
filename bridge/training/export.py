"""Export: fit a model on a dataset and write one self-describing ONNX graph (scaling included).

Why ONNX with metadata: the live daemon must not import scikit-learn, and a model is only usable with
the exact features and context it was trained on. So the graph carries everything the live side needs
as ``metadata_props`` (``vjbridge.feature_spec``, ``vjbridge.spec_digest``, ``vjbridge.context``,
``vjbridge.outputs``, ``vjbridge.train_data_hash``, ``vjbridge.cv_metrics``,
``vjbridge.format_version``), and export refuses to write a graph whose outputs differ from
scikit-learn's by more than 1e-5 on rows held back from training.

Two conversion traps (``shared/notes/feature-parity.md`` and measured here) are handled:
- skl2onnx 1.20 passes HistGradientBoosting's ``missing_go_to_left`` as a bool, which onnx 1.23
  rejects; :func:`_hgb_bool_fix` casts it to int during conversion.
- HistGradientBoosting compares float64 inputs with float64 thresholds, ONNX compares float32 with
  float32: a float32 input between ``float32(t)`` and ``t`` takes the other branch (seen: 0.48 off).
  :func:`_f32_thresholds` rounds every threshold *down* to float32 in the fitted model itself, which
  leaves its predictions on float32 inputs unchanged and makes both agree exactly.
- Ridge with 2 targets declares output ``[None, 1]`` unless ``final_types`` fixes it.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field

import numpy as np

from bridge.errors import ModelError
from bridge.models.context import DEFAULT, PAPER, ContextSpec
from bridge.models.onnx_model import FORMAT_VERSION
from bridge.training.dataset import Table, hop_for, load_table
from bridge.training.study import (context_features, folds, make_model, per_video_z, r2_rmse,
                                   within_video_r)

TOLERANCE = 1e-5


@dataclass
class Recipe:
    """What to train: context, model kind and parameters, targets, and target normalisation."""

    name: str
    context: ContextSpec
    kind: str = "Ridge"
    params: dict = field(default_factory=dict)
    targets: tuple[str, ...] = ("motion", "weight")
    per_video_normalised: bool = True
    description: str = ""


RECIPES = {
    "default": Recipe("default", DEFAULT, "HistGradientBoosting",
                      {"max_depth": 3, "learning_rate": 0.05, "max_iter": 200},
                      per_video_normalised=True,
                      description="causal context + HistGradientBoosting (depth 3) on per-video "
                                  "z-scored targets: follows motion/weight within a piece; outputs "
                                  "are in z units, use auto-range"),
    "ridge": Recipe("ridge", DEFAULT, "Ridge", {"alpha": 10.0}, per_video_normalised=True,
                    description="causal context + Ridge on per-video z-scored targets (smaller, "
                                "linear alternative to the default); outputs in z units"),
    "paper": Recipe("paper", PAPER, "Ridge", {"alpha": 1.0}, per_video_normalised=False,
                    description="the paper's protocol: 66 features frame by frame, Ridge, raw targets"),
    "light": Recipe("light", DEFAULT, "Ridge", {"alpha": 10.0}, targets=("r", "g", "b"),
                    per_video_normalised=False,
                    description="mean r, g, b of the frame from audio (causal context, Ridge)"),
}


def _multi(kind, quick=False, **params):
    model = make_model(kind, quick, **params)
    if kind == "HistGradientBoosting":
        from sklearn.multioutput import MultiOutputRegressor

        return MultiOutputRegressor(model)
    return model


def _labels(table: Table, recipe: Recipe) -> np.ndarray:
    idx = [list(table.target_names).index(t) for t in recipe.targets]
    y = table.Y[:, idx].astype(np.float64)
    return per_video_z(y, table.video, table.valid) if recipe.per_video_normalised else y


def cross_validate(table: Table, F: np.ndarray, Y: np.ndarray, recipe: Recipe) -> dict:
    """GroupKFold metrics of the recipe: R² and RMSE (its own target space), within-video r."""
    splits = folds(table)
    raw = table.Y[:, [list(table.target_names).index(t) for t in recipe.targets]]
    out = {"folds": len(splits), "split": "GroupKFold by group"}
    per = {t: {"r2": [], "rmse": [], "within_video_r": []} for t in recipe.targets}
    for train, test in splits:
        model = _multi(recipe.kind, **recipe.params).fit(F[train], Y[train])
        p = np.asarray(model.predict(F[test])).reshape(len(test), -1)
        for j, t in enumerate(recipe.targets):
            r2, rmse = r2_rmse(Y[test, j], p[:, j])
            per[t]["r2"].append(r2)
            per[t]["rmse"].append(rmse)
            per[t]["within_video_r"].append(within_video_r(p[:, j], raw[test, j], table.video[test]))
    for t, m in per.items():
        out[t] = {k: {"mean": float(np.nanmean(v)), "std": float(np.nanstd(v))} for k, v in m.items()}
    return out


@contextlib.contextmanager
def _hgb_bool_fix():
    import skl2onnx.common.tree_ensemble as te

    original = te.add_node

    def add_node(*args, nodes_missing_value_tracks_true=0, **kwargs):
        return original(*args, nodes_missing_value_tracks_true=int(nodes_missing_value_tracks_true),
                        **kwargs)

    te.add_node = add_node
    try:
        yield
    finally:
        te.add_node = original


def _f32_thresholds(model) -> None:
    """Round HistGradientBoosting thresholds down to float32 (see the module docstring)."""
    estimators = getattr(model, "estimators_", [model])
    for est in estimators:
        for predictors in getattr(est, "_predictors", []):
            for pred in predictors:
                t = pred.nodes["num_threshold"]
                f = t.astype(np.float32)
                f = np.where(f.astype(np.float64) > t, np.nextafter(f, np.float32(-np.inf)), f)
                pred.nodes["num_threshold"] = f.astype(np.float64)


def to_onnx(model, n_inputs: int, n_outputs: int):
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    _f32_thresholds(model)
    with _hgb_bool_fix():
        return convert_sklearn(model, initial_types=[("features", FloatTensorType([None, n_inputs]))],
                               final_types=[("outputs", FloatTensorType([None, n_outputs]))],
                               target_opset={"": 17, "ai.onnx.ml": 3})


def with_metadata(onx, *, spec, context: ContextSpec, outputs: list[dict], train_data_hash: str,
                  cv_metrics: dict, extra: dict | None = None, description: str = "") -> bytes:
    """Serialised ONNX model with the vjbridge metadata the live side reads and checks."""
    import onnx

    meta = {"vjbridge.format_version": str(FORMAT_VERSION),
            "vjbridge.feature_spec": spec.to_json(),
            "vjbridge.spec_digest": spec.digest,
            "vjbridge.context": context.to_json(),
            "vjbridge.outputs": json.dumps(outputs),
            "vjbridge.train_data_hash": train_data_hash,
            "vjbridge.cv_metrics": json.dumps(cv_metrics)}
    for key, value in (extra or {}).items():
        meta[f"vjbridge.{key}"] = json.dumps(value)
    onx.producer_name = "vjbridge"
    onx.doc_string = description
    onnx.helper.set_model_props(onx, meta)
    return onx.SerializeToString()


def export(data: str, out: str, *, recipe: Recipe, fps: float, log=print) -> dict:
    """Fit ``recipe`` on ``data`` at ``fps``, check ONNX == scikit-learn, write ``out`` (.onnx)."""
    import onnxruntime as ort

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    table = load_table(data, hop_for(data, fps))
    F = context_features(table, recipe.context).astype(np.float32).astype(np.float64)
    Y = _labels(table, recipe)
    log(f"cross-validating {recipe.name} ({recipe.kind}) on {int(table.valid.sum())} rows ...")
    metrics = cross_validate(table, F, Y, recipe)
    rows = np.flatnonzero(table.valid)
    rng = np.random.default_rng(0)
    held = np.sort(rng.choice(rows, max(1, min(2000, len(rows) // 50)), replace=False))
    train = np.setdiff1d(rows, held)
    model = _multi(recipe.kind, **recipe.params).fit(F[train], Y[train])
    onx = to_onnx(model, F.shape[1], len(recipe.targets))
    fitted = np.asarray(model.predict(F[train])).reshape(len(train), -1)
    lo, hi = np.percentile(fitted, 0.5, axis=0), np.percentile(fitted, 99.5, axis=0)
    outputs = [{"name": t, "min": float(lo[j]), "max": float(hi[j]),
                "description": (f"{t}, per-video z-score units (0.5-99.5 % range of training "
                                "predictions given as min/max)" if recipe.per_video_normalised
                                else f"{t} in its target units [0, 1]")}
               for j, t in enumerate(recipe.targets)]
    recipe_meta = {"name": recipe.name, "kind": recipe.kind, "params": recipe.params,
                   "per_video_normalised": recipe.per_video_normalised,
                   "description": recipe.description, "train_rows": int(len(train)),
                   "videos": len(table.videos), "groups": len(table.groups)}
    blob = with_metadata(onx, spec=table.spec, context=recipe.context, outputs=outputs,
                         train_data_hash=table.data_hash, cv_metrics=metrics,
                         extra={"recipe": recipe_meta}, description=recipe.description)
    sess = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
    got = sess.run(None, {"features": F[held].astype(np.float32)})[0]
    want = np.asarray(model.predict(F[held])).reshape(len(held), -1)
    diff = float(np.abs(got - want).max())
    if not diff <= TOLERANCE:
        raise ModelError(f"ONNX and scikit-learn disagree by {diff:.3g} (> {TOLERANCE}) on "
                         f"{len(held)} held-back rows; not writing {out}")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(blob)
    os.replace(tmp, out)
    return {"path": out, "bytes": len(blob), "max_abs_diff": diff, "held_back_rows": int(len(held)),
            "metrics": metrics, "outputs": outputs, "n_inputs": int(F.shape[1])}


def write_card(info: dict, recipe: Recipe, data: str, path: str, *, rebuild: str,
               report: str | None = None) -> str:
    """A markdown model card next to the model: data, protocol, metrics, outputs, how to rebuild."""
    from bridge.training.dataset import load_manifest

    manifest = load_manifest(data)
    m = info["metrics"]
    name = os.path.basename(info["path"])
    L = [f"# {name}", "", recipe.description, "",
         "## Data", "",
         f"- dataset `{data}`, data hash `{manifest['data_hash'][:16]}`: "
         f"{len(manifest['videos'])} videos in {len({v['group'] for v in manifest['videos']})} "
         "groups (tracks)",
         f"- alignment: {manifest['alignment']}",
         "- targets: " + "; ".join(f"**{t}**: {manifest['targets'][t]}" for t in recipe.targets),
         "", "## Model", "",
         f"- {recipe.kind} {json.dumps(recipe.params)}, "
         f"{'per-video z-scored' if recipe.per_video_normalised else 'raw'} targets, "
         f"{info['n_inputs']} inputs (context `{recipe.context.to_json()}`)",
         f"- file size {info['bytes']} bytes; ONNX vs scikit-learn max |diff| "
         f"{info['max_abs_diff']:.2g} on {info['held_back_rows']} held-back rows",
         "", f"## Cross-validation ({m['split']}, {m['folds']} folds; mean ± std over folds)", "",
         "| output | within-video r | R² | RMSE |", "|---|---|---|---|"]
    for t in recipe.targets:
        L.append(f"| {t} | {m[t]['within_video_r']['mean']:.3f} ± {m[t]['within_video_r']['std']:.3f}"
                 f" | {m[t]['r2']['mean']:.3f} ± {m[t]['r2']['std']:.3f} | "
                 f"{m[t]['rmse']['mean']:.4f} |")
    L += ["", "## Outputs", "", "| name | min | max | meaning |", "|---|---|---|---|"]
    L += [f"| {o['name']} | {o['min']:.3g} | {o['max']:.3g} | {o['description']} |"
          for o in info["outputs"]]
    if report:
        rel = os.path.relpath(report, os.path.dirname(os.path.abspath(path)))
        L += ["", f"The full study (paper tables, sweeps, within-video comparison, plots): "
                  f"[{rel}/report.md]({rel}/report.md)."]
    L += ["", "## Rebuild", "", "```sh", rebuild, "```", ""]
    text = "\n".join(L)
    with open(path, "w") as f:
        f.write(text)
    return text
