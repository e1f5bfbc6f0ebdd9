"""Evaluate exported models on any dataset, computed the way the live bridge computes them.

Why: the study's numbers are cross-validated on the corpus the models were trained on. A performer's
question is different: *how does this shipped model do on my visuals, or on music and presets it never
saw?* So each ONNX model runs over every video of a dataset written by ``vjbridge dataset`` through
the same :class:`~bridge.models.runner.ModelRunner` the live side uses (its own feature spec and
causal context, each video streamed from its start, a fresh runner per video), and the predictions
are scored against the video's targets on its valid rows:

- **within-video r**: Pearson r between prediction and target inside each video (the study's
  performer metric), reported per video and as mean ± std over videos, with a 95 % bootstrap
  interval over fold groups (tracks) because videos of one track are not independent;
- **R² (model's own target space)**: R² of the outputs *as they are*, against per-video z-scored
  targets for a model trained on them (``recipe.per_video_normalised`` in its metadata), against
  raw targets otherwise (the paper protocol);
- **R² z-scored**: R² after z-scoring both the predictor and the target per video with the whole
  video's statistics. This puts the baselines (raw RMS, onset strength: signals without units of
  motion) on the same footing as the models; it is about ``2 r - 1`` by construction and needs the
  whole video, which live cannot know. It is reported because R² is asked for, not as a new metric.

Baselines are the dataset's own RMS and onset columns at the model's hop. No model is refitted.

A model that declares a colour (metadata ``vjbridge.colours``, the light model) is also scored as a
colour (:mod:`bridge.training.light_metrics`: cosine, R², within-video r of brightness and channels,
chroma error, jitter) beside the constant colour it would have to beat: its own training mean
(``vjbridge.train_mean``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from bridge.errors import DatasetError
from bridge.training.dataset import load_manifest, load_table, sha256_file
from bridge.training.study import pearson, r2

BASELINES = {"raw RMS": -2, "onset strength": -1}  # dataset feature columns
N_BOOT = 2000


# ---- numbers ---------------------------------------------------------------------------------------
def zscore(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / (sd if sd > 1e-12 else 1.0)


def boot_ci(values: np.ndarray, groups: np.ndarray, n: int = N_BOOT, seed: int = 0):
    """95 % interval of the mean of ``values`` resampling whole groups (tracks) with replacement."""
    ok = np.isfinite(values)
    values, groups = values[ok], groups[ok]
    uniq = np.unique(groups)
    if len(uniq) < 2:
        return [float("nan"), float("nan")]
    members = [values[groups == g] for g in uniq]
    rng = np.random.default_rng(seed)
    means = np.empty(n)
    for i in range(n):
        pick = rng.integers(0, len(uniq), len(uniq))
        means[i] = np.concatenate([members[j] for j in pick]).mean()
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def score(pred_by_video: list[np.ndarray], y_by_video: list[np.ndarray], groups: np.ndarray, *,
          own_space: str | None) -> dict:
    """Metrics of one predictor on one target; inputs are the valid rows of each video."""
    rs = np.array([pearson(p, y) for p, y in zip(pred_by_video, y_by_video)])
    zp = np.concatenate([zscore(p) for p in pred_by_video])
    zy = np.concatenate([zscore(y) for y in y_by_video])
    out = {"r_mean": float(np.nanmean(rs)), "r_std": float(np.nanstd(rs)),
           "r_median": float(np.nanmedian(rs)), "r_ci95_by_group": boot_ci(rs, groups),
           "videos": int(np.isfinite(rs).sum()), "r_per_video": [None if np.isnan(r) else r
                                                                 for r in rs.tolist()],
           "r2_zscored": r2(zy, zp)}
    if own_space is not None:
        y = zy if own_space == "z" else np.concatenate(y_by_video)
        out["r2"] = r2(y, np.concatenate(pred_by_video))
        out["r2_space"] = own_space
    return out


# ---- models over a dataset -------------------------------------------------------------------------
def matching_hop(model, data: str) -> int:
    """The dataset hop holding the features ``model`` was trained on, or one clear error line."""
    from bridge.audio.spec import FeatureSpec
    from bridge.models.runner import phase_ratio

    manifest = load_manifest(data)
    want = model.spec
    for hop, spec_dict in manifest["specs"].items():
        spec = FeatureSpec.from_dict(spec_dict)
        if spec.hop_length == want.hop_length and spec.sample_rate == want.sample_rate:
            phase_ratio(want, spec, os.path.basename(model.path))  # other fields: SpecMismatchError
            return int(hop)
    have = ", ".join(f"{s['frame_rate']:.4g} fps (hop {h}, {s['sample_rate']} Hz)"
                     for h, s in sorted(manifest["specs"].items(), key=lambda kv: int(kv[0])))
    raise DatasetError(
        f"{data} has no features at {os.path.basename(model.path)}'s frame rate "
        f"({want.frame_rate:.4f} fps = hop {want.hop_length} at {want.sample_rate} Hz); it has "
        f"{have}; rebuild it with `vjbridge dataset VIDEOS --fps {want.frame_rate:.4f} --out {data}`")


def run_model(model, X: np.ndarray) -> np.ndarray:
    """Predictions for one video's feature frames, streamed from its start through the live runner."""
    from bridge.models.runner import ModelRunner

    return ModelRunner(model, model.spec).process(X)


_MODELS: dict = {}


def predict_video(model_path: str, model_sha: str, video_file: str) -> np.ndarray:
    """A fan-out task: ``model_path``'s predictions over one dataset video (its ``hop<H>.npz``),
    both read from paths the worker shares with the client; the model is loaded once per process."""
    from bridge.models.onnx_model import OnnxModel

    key = (model_path, model_sha)
    if key not in _MODELS:
        if sha256_file(model_path) != model_sha:
            raise DatasetError(f"{model_path} changed while it was being evaluated; run again")
        _MODELS[key] = OnnxModel.load(model_path)
    with np.load(video_file) as z:
        return run_model(_MODELS[key], z["X"])


def _own_space(model) -> str:
    recipe = json.loads(model.metadata.get("recipe", "{}") or "{}")
    if "per_video_normalised" in recipe:
        return "z" if recipe["per_video_normalised"] else "raw"
    return "z" if any("z-score" in o.description for o in model.outputs) else "raw"


def evaluate(model_paths: list[str], data: str, log=print, fanout=None, notes=print) -> dict:
    """Every model over every video of ``data``; returns the result dict (JSON-able). Each
    (model, video) is one task of :mod:`bridge.training.fanout` (``fanout``: its options; default
    this process; ``notes``: where its dashboard link goes)."""
    from bridge.models.onnx_model import OnnxModel
    from bridge.training.fanout import Fanout
    from bridge.training.fanout import Options as FanoutOptions

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    models = [OnnxModel.load(p) for p in model_paths]
    hops = [matching_hop(m, data) for m in models]  # all checked before any work
    manifest = load_manifest(data)
    result = {"data": {"path": str(data), "data_hash": manifest["data_hash"],
                       "videos": len(manifest["videos"]),
                       "groups": len({v["group"] for v in manifest["videos"]}),
                       "skipped": len(manifest.get("skipped", []))},
              "metrics": {"r": "Pearson r inside each video on its valid rows; mean ± std over "
                               "videos; 95 % bootstrap interval of the mean resampling groups",
                          "r2": "R² of the outputs as they are, in the model's own target space",
                          "r2_zscored": "R² after z-scoring predictor and target per video"},
              "models": [], "targets": {}}
    tables = {}
    with Fanout(fanout or FanoutOptions(jobs=1), report=notes) as fan:
        for model, hop, path in zip(models, hops, model_paths):
            _evaluate_model(result, fan, model, hop, path, data, tables, log)
    for entry in result["targets"].values():  # models first (in the order given), then baselines
        preds = entry["predictors"]
        entry["predictors"] = {k: preds[k] for k in sorted(
            preds, key=lambda k: (preds[k]["kind"] != "model", list(preds).index(k)))}
        for name, s in entry["predictors"].items():  # paired, video by video
            s["beats"] = {other: _wins(s["r_per_video"], o["r_per_video"])
                          for other, o in entry["predictors"].items() if other != name}
    return result


def _evaluate_model(result: dict, fan, model, hop: int, path: str, data: str, tables: dict,
                    log) -> None:
    """One model's predictions (one task per video) and scores into ``result``."""
    from bridge.training.fanout import Task

    if hop not in tables:
        tables[hop] = load_table(data, hop)
    table = tables[hop]
    names = list(table.target_names)
    outs = [n for n in model.names if n in names]
    if not outs:
        raise DatasetError(f"{path}: none of its outputs {list(model.names)} is a dataset "
                           f"target ({', '.join(names)}); nothing to evaluate")
    space = _own_space(model)
    slices = [(vi, sl) for vi, sl in table.video_slices()]
    keep = [table.valid[sl] for _, sl in slices]
    groups = np.array([table.videos[vi]["group"] for vi, _ in slices])
    sha = sha256_file(path)
    videos = Path(data).absolute() / "videos"  # absolute: a worker's working folder differs
    preds = fan.map(Task(predict_video, (os.path.abspath(path), sha,
                                         str(videos / table.videos[vi]["id"] /
                                             table.videos[vi]["files"][str(hop)])),
                         label=table.videos[vi]["path"]) for vi, _ in slices)
    name = os.path.basename(path)
    colours = colour_scores(model, table, slices, keep, preds)
    if colours:
        result.setdefault("colours", {})[name] = colours
    log(f"{name}: {len(slices)} videos at {table.spec.frame_rate:.4g} fps ({space} targets)")
    result["models"].append({
        "name": name, "path": str(path), "sha256": sha, "hop": hop,
        "fps": table.spec.frame_rate, "target_space": space,
        "train_data_hash": model.train_data_hash,
        "same_data_as_training": model.train_data_hash == table.data_hash,
        "cv_metrics": model.cv_metrics})
    for j, t in enumerate(model.names):
        if t not in outs:
            continue
        ti = names.index(t)
        ys = [table.Y[sl, ti][k].astype(np.float64) for (_, sl), k in zip(slices, keep)]
        entry = result["targets"].setdefault(t, {"videos": _video_rows(table, slices),
                                                 "predictors": {}})
        entry["predictors"][name] = {
            "kind": "model", **score([p[k, j] for p, k in zip(preds, keep)], ys, groups,
                                     own_space=space)}
        for base, col in BASELINES.items():
            if base not in entry["predictors"]:
                entry["predictors"][base] = {
                    "kind": "baseline", **score([table.X[sl, col][k].astype(np.float64)
                                                 for (_, sl), k in zip(slices, keep)],
                                                ys, groups, own_space=None)}


def colour_scores(model, table, slices, keep, preds) -> dict:
    """Colour metrics of each colour ``model`` declares, and of its training-mean constant."""
    from bridge.training.light import label_colours
    from bridge.training.light_metrics import colour_metrics

    declared = json.loads(model.metadata.get("colours", "[]") or "[]")
    if not declared:
        return {}
    label = json.loads(model.metadata.get("recipe", "{}") or "{}").get("label", "mean")
    Y = label_colours(table, label)
    mean = json.loads(model.metadata.get("train_mean", "null") or "null")
    video = np.concatenate([np.full(int(k.sum()), vi) for (vi, _), k in zip(slices, keep)])
    true = np.concatenate([Y[sl][k] for (_, sl), k in zip(slices, keep)])
    out = {}
    for colour in declared:
        idx = [list(model.names).index(c) for c in colour["channels"]]
        pred = np.concatenate([p[k][:, idx] for p, k in zip(preds, keep)])
        scores = {"model": colour_metrics(pred=pred, true=true, video=video,
                                          fps=table.spec.frame_rate)}
        if mean is not None:
            const = np.tile(np.asarray(mean, dtype=np.float64)[idx], (len(true), 1))
            scores["constant (training mean)"] = colour_metrics(pred=const, true=true, video=video,
                                                                fps=table.spec.frame_rate)
        out[colour["name"]] = {"label": label, "channels": colour["channels"], **scores}
    return out


def _colour_markdown(result: dict) -> list[str]:
    from bridge.training.light_card import COLUMNS

    L = []
    for name, colours in result.get("colours", {}).items():
        for cname, entry in colours.items():
            L += [f"## Colour `{cname}` of {name} ({entry['label']} colour, "
                  f"{'/'.join(entry['channels'])})", "",
                  "| predictor | " + " | ".join(c for _, c in COLUMNS) + " |",
                  "|---" * (len(COLUMNS) + 1) + "|"]
            for who in ("model", "constant (training mean)"):
                if who in entry:
                    L.append(f"| {name if who == 'model' else who} | " + " | ".join(
                        _f(entry[who][k]) for k, _ in COLUMNS) + " |")
            L.append("")
    return L


def _wins(a: list, b: list) -> list[int]:
    """``[videos where a's r > b's r, videos compared]``."""
    pairs = [(x, y) for x, y in zip(a, b) if x is not None and y is not None]
    return [sum(x > y for x, y in pairs), len(pairs)]


def _video_rows(table, slices) -> list[dict]:
    rows = []
    for vi, sl in slices:
        v = table.videos[vi]
        info = v.get("info", {}) or {}
        rows.append({"id": v["id"], "group": v["group"], "path": v["path"],
                     "track": info.get("track"), "preset": info.get("preset"),
                     "rows": int(table.valid[sl].sum())})
    return rows


# ---- report ----------------------------------------------------------------------------------------
def _f(x, d=3) -> str:
    return "—" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{d}f}"


def markdown(result: dict, *, title: str | None = None, commands: str | None = None) -> str:
    d = result["data"]
    L = [f"# {title or 'Model evaluation'}", "",
         f"Dataset `{d['path']}` (data hash `{d['data_hash'][:16]}`): {d['videos']} videos in "
         f"{d['groups']} groups (tracks), {d['skipped']} skipped. Each model runs through the live "
         "`ModelRunner` (its own feature spec and causal context, every video streamed from its "
         "start); nothing is refitted. r = within-video Pearson r on valid rows, mean ± std over "
         "videos, [95 % bootstrap interval resampling tracks]. R² = outputs as they are, in the "
         "model's own target space (z = per-video z-scored targets, raw = the paper's protocol); "
         "R² z-scored = after z-scoring predictor and target per video (≈ 2r − 1; the only R² a "
         "unitless baseline has).", ""]
    for m in result["models"]:
        note = " **(this is its training data)**" if m["same_data_as_training"] else ""
        L.append(f"- `{m['name']}`: {m['fps']:.4g} fps, {m['target_space']} targets, sha256 "
                 f"`{m['sha256'][:16]}`, trained on data `{(m['train_data_hash'] or '?')[:16]}`{note}")
    L.append("")
    for t, entry in result["targets"].items():
        L += [f"## {t}", "",
              "| predictor | within-video r | 95 % interval | median r | R² (own space) | "
              "R² z-scored | in-corpus CV r (card) |", "|---|---|---|---|---|---|---|"]
        cvs = {m["name"]: m["cv_metrics"].get(t, {}).get("within_video_r") for m in result["models"]}
        for name, s in entry["predictors"].items():
            cv = cvs.get(name)
            cv_txt = f"{cv['mean']:.3f} ± {cv['std']:.3f} (folds)" if cv else "—"
            own = f"{_f(s.get('r2'))} ({s['r2_space']})" if "r2" in s else "—"
            lo, hi = s["r_ci95_by_group"]
            L.append(f"| {name} | {s['r_mean']:.3f} ± {s['r_std']:.3f} ({s['videos']} videos) | "
                     f"[{_f(lo)}, {_f(hi)}] | {_f(s['r_median'])} | {own} | "
                     f"{_f(s['r2_zscored'])} | {cv_txt} |")
        L.append("")
        for name, s in entry["predictors"].items():
            if s["kind"] == "model":
                L.append(f"- `{name}` has the higher r in " + ", ".join(
                    f"{k}/{n} videos vs {other}" for other, (k, n) in s["beats"].items()) + ".")
        L.append("")
    L += _colour_markdown(result)
    first = next(iter(result["targets"]), None)
    if first:
        entry = result["targets"][first]
        names = list(entry["predictors"])
        L += [f"## Per video ({first}, within-video r)", "",
              "| video | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        for i, v in enumerate(entry["videos"]):
            label = (f"{v['track']} / {Path(v['preset']).stem[:40]}" if v.get("track")
                     and v.get("preset") else Path(v["path"]).stem)
            L.append(f"| {label} | " + " | ".join(_f(entry["predictors"][n]["r_per_video"][i])
                                                  for n in names) + " |")
        L.append("")
    if commands:
        L += ["## Rebuild", "", "```sh", commands.strip(), "```", ""]
    return "\n".join(L)


def write_report(result: dict, out_dir: str, *, title: str | None = None,
                 commands: str | None = None) -> tuple[str, str]:
    os.makedirs(out_dir, exist_ok=True)
    md, js = os.path.join(out_dir, "report.md"), os.path.join(out_dir, "results.json")
    for path, text in ((md, markdown(result, title=title, commands=commands)),
                       (js, json.dumps(result, indent=1) + "\n")):
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
    return md, js


def summary_lines(result: dict) -> list[str]:
    lines = []
    for t, entry in result["targets"].items():
        for name, s in entry["predictors"].items():
            lines.append(f"{t:>7}  {name:<28} r {s['r_mean']:+.3f} ± {s['r_std']:.3f} "
                         f"over {s['videos']} videos")
    return lines
