"""``vjbridge export DATA --recipe light``: the audio -> RGB light model, its baselines, and its export.

Why this protocol: the paper's cosine similarity is fooled by grey (see
:mod:`bridge.training.light_metrics`), so the CNN (:mod:`bridge.training.light_cnn`) is scored beside
five baselines on the study's GroupKFold-by-track folds (:func:`bridge.training.study.folds`), with
metrics a constant cannot win:

- **constant**: the training rows' mean colour (what a near-grey cosine rewards),
- **constant x level**: the same colour, its brightness following the frame's RMS (no learning:
  the bar a learned brightness must clear),
- **per-video mean**: each held-out video's own mean colour (an oracle: no live model knows it),
- **Ridge** and an **MLP** (scikit-learn) on the same context row as the CNN.

Two labels are trained and reported: the frame's **mean** colour (dataset ``r, g, b``) and its
**implied** colour (the dominant k-means cluster, stored as ``hue, saturation, value``, converted to
RGB). The shipped model predicts the mean colour unless the implied one is clearly better
(:func:`choose_label`).

Resumable: every fold of every model, and the final fit, is saved under a work folder next to the
output (``light-rgb.work/``) keyed by the data hash and the options, so a crashed run continues where
it stopped (:class:`bridge.training.study.Sections`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass

import numpy as np

from bridge.errors import ModelError
from bridge.training import light_cnn as cnn
from bridge.training import light_metrics as lm

#: Bump when a change makes cached folds stale (model, loss, baselines, metrics).
CACHE_VERSION = 2
MODELS = ("constant", "constant x level", "per-video mean", "Ridge", "MLP", "CNN")
LABELS = {"mean": "the frame's mean colour (dataset r, g, b)",
          "implied": "the frame's implied colour: the largest k-means cluster's mean colour "
                     "(dataset hue, saturation, value converted to RGB)"}
#: Metrics where higher is better (the rest: chroma_error lower, jitter_ratio nearest 1).
HIGHER = ("cosine", "r2_r", "r2_g", "r2_b", "r_brightness", "r_r", "r_g", "r_b")
COLOURS = [{"name": "colour", "channels": ["r", "g", "b"]}]


@dataclass(frozen=True)
class LightOptions:
    """Everything that changes the numbers (part of the cache key)."""

    window: int = 24  # frames of the six summary channels the CNN convolves (t-23 .. t)
    taus: tuple[float, ...] = (8.0, 32.0, 128.0)  # running means at ~0.5 s, 2 s, 8.5 s (15 fps)
    epochs: int = 15
    chunk: int = 32
    batch: int = 64
    lr: float = 2e-3
    smooth: float = 0.25
    mse: float = 1.0
    within: float = 2.0  # weight of the chunk-centred MSE (movement inside ~2 s)
    ridge_alpha: float = 10.0
    mlp_hidden: tuple[int, ...] = (64, 32)
    mlp_max_rows: int = 20000
    mlp_max_iter: int = 30
    frame_in_dense: bool = True  # the frame's 66 features also feed the dense layers
    seed: int = 0
    labels: tuple[str, ...] = ("mean", "implied")

    @property
    def context(self):
        return cnn.context_for(self.window, self.taus)


def label_colours(table, label: str) -> np.ndarray:
    """``(n, 3)`` RGB label of every row."""
    names = list(table.target_names)
    if label == "mean":
        return table.Y[:, [names.index(c) for c in "rgb"]].astype(np.float64)
    if label == "implied":
        return lm.hsv_to_rgb(hsv=table.Y[:, [names.index(c) for c in ("hue", "saturation", "value")]])
    raise ValueError(f"unknown light label {label!r}; choose from {list(LABELS)}")


# ---- baselines and the CNN on one fold -------------------------------------------------------------
def fit_predict(model: str, *, F, seq, dense, Y, table, train, test, opts: LightOptions, log):
    """Predictions ``(len(test), 3)`` of one model trained on ``train`` rows."""
    if model == "constant":
        return np.tile(Y[train].mean(axis=0), (len(test), 1))
    if model == "constant x level":
        # no learning at all: the training mean colour, its brightness following the frame's RMS
        # relative to the training rows' mean RMS (what "a colour that pumps with the level"
        # gives a lighting desk; cosine is the constant's, since cosine ignores brightness)
        rms = table.X[:, list(table.spec.feature_names).index("rms")].astype(np.float64)
        gain = rms[test] / max(float(rms[train].mean()), 1e-12)
        return np.clip(Y[train].mean(axis=0)[None, :] * gain[:, None], 0.0, 1.0)
    if model == "per-video mean":
        out = np.empty((len(test), 3))
        for v in np.unique(table.video[test]):
            m = table.video[test] == v
            out[m] = Y[test][m].mean(axis=0)
        return out
    if model == "Ridge":
        from bridge.training.study import make_model

        fitted = make_model("Ridge", alpha=opts.ridge_alpha).fit(F[train], Y[train])
        return np.clip(fitted.predict(F[test]), 0.0, 1.0)
    if model == "MLP":
        from sklearn.neural_network import MLPRegressor
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        from bridge.training.study import _subsample

        rows = _subsample(train, opts.mlp_max_rows, opts.seed)
        mlp = Pipeline([("scale", StandardScaler()),
                        ("mlp", MLPRegressor(hidden_layer_sizes=opts.mlp_hidden,
                                             max_iter=opts.mlp_max_iter, early_stopping=True,
                                             random_state=opts.seed))])
        return np.clip(mlp.fit(F[rows], Y[rows]).predict(F[test]), 0.0, 1.0)
    if model == "CNN":
        params, norm = train_cnn(seq, dense, Y, train, table.video, opts, log)
        return cnn.predict(params, norm, seq[test], dense[test])
    raise ValueError(f"unknown model {model!r}")


def train_cnn(seq, dense, Y, rows, video, opts: LightOptions, log):
    return cnn.train(seq, dense, Y, rows, video, epochs=opts.epochs, seed=opts.seed, lr=opts.lr,
                     chunk=opts.chunk, batch=opts.batch, smooth=opts.smooth, mse=opts.mse,
                     within=opts.within, log=log)


def summarise(per_fold: list[dict]) -> dict:
    """``{metric: {mean, std, folds}}`` over folds (NaN folds ignored)."""
    out = {}
    for k in per_fold[0]:
        a = np.array([f[k] for f in per_fold], dtype=np.float64)
        out[k] = {"mean": float(np.nanmean(a)) if np.isfinite(a).any() else float("nan"),
                  "std": float(np.nanstd(a)) if np.isfinite(a).any() else float("nan"),
                  "folds": a.tolist()}
    return out


def choose_label(results: dict) -> tuple[str, str]:
    """``(label, why)``: the mean colour unless the implied one is clearly better for the CNN.

    Each label is judged against its own constant (the two are different targets): implied wins only
    if its CNN beats its constant on cosine, by at least 0.01 more than the mean colour's CNN beats
    its own, *and* its within-video brightness r is at least 0.05 larger than the mean colour's."""
    if "implied" not in results or "mean" not in results:
        label = next(iter(results))
        return label, "only one label was trained"
    def gain(label):
        m = results[label]["models"]
        return (m["CNN"]["cosine"]["mean"] - m["constant"]["cosine"]["mean"],
                m["CNN"]["r_brightness"]["mean"])
    (gm, rm), (gi, ri) = gain("mean"), gain("implied")
    if gi > 0 and gi >= gm + 0.01 and ri >= rm + 0.05:
        return "implied", (f"implied colour clearly better: cosine gain over its constant {gi:+.3f} "
                           f"vs {gm:+.3f}, brightness r {ri:.3f} vs {rm:.3f}")
    return "mean", (f"mean colour (the default; implied is not clearly better: cosine gain over "
                    f"its constant {gi:+.3f} vs {gm:+.3f}, brightness r {ri:.3f} vs {rm:.3f})")


# ---- the whole run ---------------------------------------------------------------------------------
def work_dir_for(out: str) -> str:
    return os.path.splitext(out)[0] + ".work"


def export_light(data: str, out: str, *, fps: float, opts: LightOptions = LightOptions(),
                 work: str | None = None, log=print) -> dict:
    """Cross-validate models and labels, fit the CNN on all data, check ONNX == JAX, write ``out``."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cnn.limit_threads()
    from bridge.training.dataset import hop_for, load_table
    from bridge.training.export import TOLERANCE, with_metadata
    from bridge.training.study import Sections, context_features, folds

    t0 = time.perf_counter()
    hop = hop_for(data, fps)
    table = load_table(data, hop)
    context = opts.context
    F = context_features(table, context).astype(np.float32)
    layout = cnn.Layout.of(context, table.X.shape[1], frame_in_dense=opts.frame_in_dense)
    seq, dense = cnn.split_inputs(F, layout)
    F64 = F.astype(np.float64)
    splits = folds(table)
    options = json.loads(json.dumps(asdict(opts)))
    # labels are cached apart (sections named by label): training fewer labels reuses the folds
    key = {"data_hash": table.data_hash, "hop": hop, "cache_version": CACHE_VERSION,
           "options": {k: v for k, v in options.items() if k != "labels"}}
    work = work or work_dir_for(out)
    sections = Sections(work, key, log)
    fr = table.spec.frame_rate
    log(f"light: {int(table.valid.sum())} rows, {len(table.videos)} videos, {len(splits)} folds, "
        f"{F.shape[1]} inputs at {fr:.4f} fps; work folder {work}")
    results, oof = {}, {}
    for label in opts.labels:
        Y = label_colours(table, label)
        results[label] = {"models": {}, "seconds": {}}
        for model in MODELS:
            pred = np.full((len(Y), 3), np.nan)
            per_fold, secs = [], 0.0
            for i, (train, test) in enumerate(splits):
                def compute(model=model, train=train, test=test):
                    s = time.perf_counter()
                    p = fit_predict(model, F=F64, seq=seq, dense=dense, Y=Y, table=table,
                                    train=train, test=test, opts=opts, log=None)
                    s = time.perf_counter() - s
                    if s > 5:
                        log(f"  [{time.perf_counter() - t0:5.0f} s] {label} {model} fold {i}: "
                            f"{s:.0f} s")
                    return {"seconds": s}, {"pred": p}

                value, arrays = sections.get(f"{label}/{model}/fold{i}", compute)
                pred[test] = arrays["pred"]
                secs += value["seconds"]
                per_fold.append(lm.colour_metrics(pred=pred[test], true=Y[test],
                                                  video=table.video[test], fps=fr))
            results[label]["models"][model] = summarise(per_fold)
            results[label]["seconds"][model] = round(secs, 1)
            oof[(label, model)] = pred
            m = results[label]["models"][model]
            log(f"  [{time.perf_counter() - t0:5.0f} s] {label:>7} {model:<15} cosine "
                f"{m['cosine']['mean']:.3f}  brightness r {m['r_brightness']['mean']:+.3f}  "
                f"chroma err {m['chroma_error']['mean']:.3f}  jitter x{m['jitter_ratio']['mean']:.2f}"
                f"  ({secs:.0f} s)")
    label, why = choose_label(results)
    log(f"shipping the {label} colour: {why}")
    Y = label_colours(table, label)
    rows = np.flatnonzero(table.valid)
    rng = np.random.default_rng(0)
    held = np.sort(rng.choice(rows, max(1, min(2000, len(rows) // 50)), replace=False))
    train = np.setdiff1d(rows, held)

    def final():
        s = time.perf_counter()
        params, norm = train_cnn(seq, dense, Y, train, table.video, opts, log)
        return ({"seconds": time.perf_counter() - s},
                {**{f"p:{k}": v for k, v in params.items()}, **{f"n:{k}": v for k, v in norm.items()}})

    value, arrays = sections.get(f"{label}/final", final)
    params = {k[2:]: v for k, v in arrays.items() if k.startswith("p:")}
    norm = {k[2:]: v for k, v in arrays.items() if k.startswith("n:")}
    onx = cnn.to_onnx(params, norm, layout, F.shape[1])
    train_mean = Y[train].mean(axis=0)
    outputs = [{"name": c, "min": 0.0, "max": 1.0,
                "description": f"{c} of the {label} colour, linear RGB in [0, 1]"} for c in "rgb"]
    chosen = results[label]["models"]
    cv_metrics = {"split": "GroupKFold by group (track)", "folds": len(splits), "label": label,
                  "models": {m: {k: {"mean": v["mean"], "std": v["std"]} for k, v in s.items()}
                             for m, s in chosen.items()},
                  **{c: {"within_video_r": {"mean": chosen["CNN"][f"r_{c}"]["mean"],
                                            "std": chosen["CNN"][f"r_{c}"]["std"]},
                         "r2": {"mean": chosen["CNN"][f"r2_{c}"]["mean"],
                                "std": chosen["CNN"][f"r2_{c}"]["std"]}} for c in "rgb"}}
    recipe_meta = {"name": "light", "kind": "CNN (JAX)", "label": label, "label_why": why,
                   "per_video_normalised": False, "window": opts.window, "fps": fr,
                   "options": options, "train_rows": int(len(train)),
                   "videos": len(table.videos), "groups": len(table.groups),
                   "final_fit_seconds": round(value["seconds"], 1)}
    description = (f"audio -> {label} RGB colour: causal 1-D CNN over {opts.window} frames "
                   f"({opts.window / fr:.2f} s) of six summary channels + the frame's features")
    blob = with_metadata(onx, spec=table.spec, context=context, outputs=outputs,
                         train_data_hash=table.data_hash, cv_metrics=cv_metrics,
                         extra={"recipe": recipe_meta, "colours": COLOURS,
                                "train_mean": [float(v) for v in train_mean]},
                         description=description)
    diff = check_graph(blob, params, norm, F[held], layout)
    if not diff <= TOLERANCE:
        raise ModelError(f"ONNX and JAX disagree by {diff:.3g} (> {TOLERANCE}) on {len(held)} "
                         f"held-back rows; not writing {out}")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out + ".tmp", "wb") as f:
        f.write(blob)
    os.replace(out + ".tmp", out)
    return {"path": out, "bytes": len(blob), "max_abs_diff": diff, "held_back_rows": int(len(held)),
            "n_inputs": int(F.shape[1]), "label": label, "label_why": why, "results": results,
            "paper_cosine": lm.PAPER_COSINE, "fps": fr, "hop": hop, "window": opts.window,
            "window_seconds": opts.window / fr, "options": options,
            "context": context.to_dict(), "outputs": outputs, "colours": COLOURS,
            "train_mean": [float(v) for v in train_mean], "data_hash": table.data_hash,
            "videos": len(table.videos), "groups": len(table.groups), "folds": len(splits),
            "rows": int(len(rows)), "resumed_sections": sections.resumed,
            "seconds": round(time.perf_counter() - t0, 1),
            "final_fit_seconds": round(value["seconds"], 1),
            "_oof": oof, "_table": table}


def check_graph(blob: bytes, params, norm, F_held: np.ndarray, layout) -> float:
    """Max |ONNX - JAX| on the held-back context rows (float32 inputs, as live)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
    got = sess.run(None, {"features": F_held.astype(np.float32)})[0]
    seq, dense = cnn.split_inputs(F_held.astype(np.float32), layout)
    want = cnn.predict(params, norm, seq, dense)
    return float(np.abs(got - want).max())
