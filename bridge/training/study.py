"""The study: the paper's protocol reproduced, and a performer's metric it should have used.

Why two metrics: the paper scores raw targets with R² across videos (GroupKFold by track). On
visualizer data the preset sets each video's motion *level* and audio only modulates it, so that R² is
dominated by between-video differences audio cannot explain (``shared/notes/study-pitfalls.md``). A
performer needs the prediction to follow the motion *within* a piece, so we also report the
within-video Pearson r (per held-out video, then mean over videos, then mean ± std over folds)
for simple baselines (raw RMS, onset strength), the paper-protocol Ridge, and models with causal
context (:mod:`bridge.models.context`) trained on per-video normalised targets. Every number uses the
same GroupKFold split (5 folds by group: a track and all its renders).

Every model is fitted fold by fold as tasks of :mod:`bridge.training.fanout`
(:mod:`bridge.training.study_tasks`: one model on one fold each), so the study runs on local
processes or a Dask cluster (``--jobs``, ``--dask``, ``--scheduler``) with the same numbers.

Models are scikit-learn pipelines of steps skl2onnx converts (StandardScaler, Ridge, LinearRegression,
RandomForestRegressor, HistGradientBoostingRegressor), so whatever the study selects can be exported.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass

import numpy as np

from bridge.errors import DatasetError
from bridge.models.context import DEFAULT, PAPER, ContextBuilder, ContextSpec
from bridge.training.dataset import Table, available_hops, hop_for, load_manifest, load_table

PAPER_8FPS = {  # the paper's Table 1 at 8 fps: mean cross-validated R², its std, RMSE
    "Ridge": (0.141, 0.085, 0.114),
    "RandomForest": (0.143, 0.089, 0.1139),
    "HistGradientBoosting": (0.083, 0.097, 0.117),
}
PAPER_HUE = {"LinearRegression": -0.98, "RandomForest": -0.11}
MAIN_TARGETS = ("motion", "weight")
COLOUR_TARGETS = ("hue", "saturation", "value")


# ---- models ----------------------------------------------------------------------------------------
def make_model(kind: str, quick: bool = False, **params):
    """A fresh, skl2onnx-convertible regressor pipeline."""
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import LinearRegression, Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "Ridge":
        return Pipeline([("scale", StandardScaler()), ("ridge", Ridge(alpha=params.get("alpha", 1.0)))])
    if kind == "LinearRegression":
        return Pipeline([("scale", StandardScaler()), ("ols", LinearRegression())])
    if kind == "RandomForest":
        return RandomForestRegressor(
            n_estimators=params.get("n_estimators", 20 if quick else 100),
            max_features=params.get("max_features", 0.33),
            min_samples_leaf=params.get("min_samples_leaf", 5),
            max_depth=params.get("max_depth", None), n_jobs=params.get("n_jobs", 1), random_state=0)
    if kind == "HistGradientBoosting":
        return HistGradientBoostingRegressor(
            learning_rate=params.get("learning_rate", 0.1), max_depth=params.get("max_depth", None),
            l2_regularization=params.get("l2_regularization", 0.0),
            max_iter=params.get("max_iter", 30 if quick else 200), early_stopping=False,
            random_state=0)
    raise ValueError(f"unknown model kind {kind!r}")


# ---- data helpers ----------------------------------------------------------------------------------
def context_features(table: Table, spec: ContextSpec) -> np.ndarray:
    """Context columns for every row, each video streamed from its start (as live)."""
    if spec.empty:
        return table.X.astype(np.float64)
    out = np.empty((len(table.X), spec.n_outputs(table.X.shape[1])))
    for _, sl in table.video_slices():
        out[sl] = ContextBuilder(spec, table.X.shape[1]).process(table.X[sl])
    return out


def per_video_z(y: np.ndarray, video: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Targets z-scored within each video (valid rows define mean and std)."""
    z = np.zeros_like(y, dtype=np.float64)
    for v in np.unique(video):
        rows = (video == v) & valid
        if rows.sum() < 2:
            continue
        mu, sd = y[rows].mean(axis=0), y[rows].std(axis=0)
        z[video == v] = (y[video == v] - mu) / np.where(sd > 1e-12, sd, 1.0)
    return z


def folds(table: Table, n_splits: int = 5):
    from sklearn.model_selection import GroupKFold

    rows = np.flatnonzero(table.valid)
    k = min(n_splits, len(np.unique(table.group[rows])))
    if k < 2:
        raise DatasetError("the study needs videos from at least 2 groups (tracks) for "
                           "GroupKFold; add videos of another track, or pass --group-regex to "
                           "`vjbridge dataset` so renders of different tracks are told apart")
    return [(rows[a], rows[b]) for a, b in GroupKFold(n_splits=k).split(rows, groups=table.group[rows])]


def r2(y, p) -> float:
    ss = ((y - y.mean()) ** 2).sum()
    return float(1.0 - ((y - p) ** 2).sum() / ss) if ss > 0 else float("nan")


def r2_rmse(y, p):
    return r2(y, p), float(np.sqrt(((y - p) ** 2).mean()))


def pearson(a, b) -> float:
    """Pearson r; NaN for fewer than 3 rows or a constant series (which have no r)."""
    if len(a) < 3 or np.std(a) < 1e-12 or np.std(b) < 1e-12:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def within_video_r(pred, y, video) -> float:
    """Mean over videos of Pearson r between prediction and target (constant series skipped)."""
    rs = []
    for v in np.unique(video):
        m = video == v
        r = pearson(pred[m], y[m])
        if r == r:
            rs.append(r)
    return float(np.mean(rs)) if rs else float("nan")


def _subsample(idx, max_rows, seed=0):
    if max_rows and len(idx) > max_rows:
        return np.sort(np.random.default_rng(seed).choice(idx, max_rows, replace=False))
    return idx


def fold_r(pred, y, table, splits):
    """Within-video r per fold (mean over that fold's videos)."""
    return np.array([within_video_r(pred[test], y[test], table.video[test]) for _, test in splits])


def summary(a) -> dict:
    a = np.asarray(a, dtype=np.float64)
    return {"mean": float(np.nanmean(a)), "std": float(np.nanstd(a)), "folds": a.tolist()}


# ---- the study -------------------------------------------------------------------------------------
@dataclass
class Options:
    fps: float = 8.0
    quick: bool = False
    max_rows: int | None = None  # cap on training rows for forest/boosting sweeps
    jobs: int = 1  # local processes for the fold tasks when `fanout` is not given
    resume_dir: str | None = None  # finished sections are kept here, so a rerun continues
    fanout: object = None  # where the fold tasks run: bridge.training.fanout.Options


class Sections:
    """Finished sections of one study run on disk, so an interrupted run continues where it stopped.

    The full study takes hours on two cores; a machine that goes away must not cost them all. A
    section is computed once and saved (JSON, plus an ``.npz`` of arrays when it has any); a rerun with
    the same data hash and options reads it back. Different data or options start afresh.
    """

    def __init__(self, folder: str | None, key: dict, log=print):
        self.folder, self.log = folder, log
        self.resumed = 0
        if not folder:
            return
        key_path = os.path.join(folder, "key.json")
        if os.path.exists(key_path):
            with open(key_path) as f:
                if json.load(f) != key:
                    log(f"{folder}: saved sections are for other data or options; starting afresh")
                    shutil.rmtree(folder)
        os.makedirs(folder, exist_ok=True)
        self._write(key_path, key)

    def get(self, name: str, compute):
        """``compute()`` -> (json-able value, {name: array}) once; later calls read it back."""
        if not self.folder:
            return compute()
        base = os.path.join(self.folder, name.replace("/", "__").replace(" ", "_"))
        if os.path.exists(base + ".json"):
            with open(base + ".json") as f:
                value = json.load(f)
            arrays = dict(np.load(base + ".npz")) if os.path.exists(base + ".npz") else {}
            self.log(f"  {name}: resumed from {self.folder}")
            self.resumed += 1
            return value, arrays
        value, arrays = compute()
        if arrays:
            np.savez(base + ".tmp.npz", **arrays)
            os.replace(base + ".tmp.npz", base + ".npz")
        self._write(base + ".json", value)
        return value, arrays

    @staticmethod
    def _write(path, value):
        with open(path + ".tmp", "w") as f:
            json.dump(value, f)
        os.replace(path + ".tmp", path)


def run_study(data: str, opts: Options, log=print) -> dict:
    """Every section of the study; each model's folds are tasks of one
    :class:`~bridge.training.fanout.Fanout` (:mod:`bridge.training.study_tasks`)."""
    from bridge.training.fanout import Fanout
    from bridge.training.fanout import Options as FanoutOptions
    from bridge.training.study_tasks import prime

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    hop = hop_for(data, opts.fps)
    table = load_table(data, hop)
    prime(os.path.abspath(data), hop, table)  # the tasks this process runs use this table
    with Fanout(opts.fanout or FanoutOptions(jobs=max(1, opts.jobs)), report=log) as fan:
        return _run_study(data, opts, log, fan, hop, table)


def _run_study(data, opts, log, fan, hop, table) -> dict:
    from bridge.training.study_tasks import CV, Problem, run_cv

    t0 = time.perf_counter()
    plain_log = log

    def log(msg):  # noqa: F811 - elapsed time on every progress line
        plain_log(f"[{time.perf_counter() - t0:6.0f} s] {msg}")

    manifest = load_manifest(data)
    names = list(table.target_names)
    ti = {n: names.index(n) for n in names}
    splits = folds(table)
    X = table.X.astype(np.float64)

    where = os.path.abspath(data)  # what a worker in another working folder opens

    def P(target, **kw):  # noqa: N802 - a problem of the main hop
        return Problem(where, hop, table.data_hash, target, **kw)

    res = {"data": {"path": str(data), "data_hash": table.data_hash,
                    "videos": len(table.videos), "groups": len(table.groups),
                    "rows": int(table.valid.sum()), "hop": hop, "fps": table.spec.frame_rate,
                    "feature_spec": table.spec.to_dict(), "folds": len(splits),
                    "targets": manifest["targets"]},
           "quick": opts.quick, "max_rows": opts.max_rows,
           "sweep_rows": _sweep_rows(opts)}
    key = {"data_hash": table.data_hash, **{k: v for k, v in asdict(opts).items()
                                            if k not in ("jobs", "resume_dir", "fanout")}}
    sections = Sections(opts.resume_dir, key, log)
    kinds = ("Ridge", "RandomForest", "HistGradientBoosting")

    # 1. paper protocol: raw targets, 66 features, R² and RMSE per target
    log(f"paper protocol ... (fold tasks on {fan.options.describe()})")
    protocol, oof_paper = {}, {}
    for kind in kinds:
        def one_kind(kind=kind):
            cap = opts.max_rows if kind == "RandomForest" else None
            got = run_cv(fan, [CV(P(t), kind, table.Y[:, ti[t]], splits, opts.quick, cap)
                               for t in MAIN_TARGETS])
            rows = {t: {"r2": summary(r2), "rmse": summary(rmse)}
                    for t, (_, r2, rmse) in zip(MAIN_TARGETS, got)}
            return rows, {t: oof for t, (oof, _, _) in zip(MAIN_TARGETS, got)}

        protocol[kind], oofs = sections.get(f"protocol/{kind}", one_kind)
        oof_paper.update({(kind, t): oofs[t] for t in MAIN_TARGETS})
        both = np.concatenate([protocol[kind][t]["r2"]["folds"] for t in MAIN_TARGETS])
        protocol[kind]["mean"] = {"r2": float(np.mean([protocol[kind][t]["r2"]["mean"]
                                                       for t in MAIN_TARGETS])),
                                  "r2_std": float(np.std(both)),
                                  "rmse": float(np.mean([protocol[kind][t]["rmse"]["mean"]
                                                         for t in MAIN_TARGETS]))}
        log(f"  {kind}: mean R² {protocol[kind]['mean']['r2']:.3f}{fan.status()}")
    res["protocol"] = protocol

    # 2. colour targets (the paper's negative result)
    log(f"colour targets ...{fan.status()}")

    def colour():
        pairs = [(kind, t) for kind in ("LinearRegression", "RandomForest") for t in COLOUR_TARGETS]
        got = run_cv(fan, [CV(P(t), kind, table.Y[:, ti[t]], splits, opts.quick, opts.max_rows)
                           for kind, t in pairs])
        out = {}
        for (kind, t), (_, r2, rmse) in zip(pairs, got):
            out.setdefault(kind, {})[t] = {"r2": summary(r2), "rmse": summary(rmse)}
        return out, {}

    res["colour"], _ = sections.get("colour", colour)

    # 3. frame-rate sweep with Ridge
    log(f"frame-rate sweep ...{fan.status()}")

    def fps_sweep():
        rows, jobs = [], []
        for h in sorted(available_hops(data), reverse=True):  # ascending fps
            tb = table if h == hop else load_table(data, h)
            sp = folds(tb)
            rows.append({"hop": h, "fps": tb.spec.frame_rate, "rows": int(tb.valid.sum())})
            jobs += [CV(Problem(where, h, tb.data_hash, t), "Ridge", tb.Y[:, ti[t]], sp)
                     for t in MAIN_TARGETS]
        got = iter(run_cv(fan, jobs))
        for row in rows:
            for t in MAIN_TARGETS:
                _, r2, rmse = next(got)
                row[t] = {"r2": summary(r2), "rmse": summary(rmse)}
        return rows, {}

    res["fps_sweep"], _ = sections.get("fps_sweep", fps_sweep)

    # 4. hyper-parameter sweeps (motion and weight, mean R² over folds)
    log(f"hyper-parameter sweeps ...{fan.status()}")
    res["sweeps"] = sweeps(table, splits, ti, opts, sections, fan=fan, problem=P)

    # 5. the performer metric: within-video r on per-video normalised targets
    log(f"within-video metric ...{fan.status()}")
    res["performer"] = performer(X, table, splits, ti, oof_paper, opts, log, sections, fan=fan,
                                 problem=P)
    res["seconds"] = round(time.perf_counter() - t0, 1)
    res["resumed_sections"] = sections.resumed
    return res


def _sweep_rows(opts):
    return None if not opts.max_rows else max(5000, opts.max_rows // 3)


def sweeps(table, splits, ti, opts, sections, *, fan, problem):
    """Mean R² over folds of every grid point; ``problem(target)``: the main hop's
    :class:`~bridge.training.study_tasks.Problem`."""
    from bridge.training.study_tasks import CV, run_cv

    q = opts.quick
    grids = {
        "Ridge": [{"alpha": a} for a in ((0.1, 10.0, 1e3) if q else
                                        (0.01, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5))],
        "RandomForest": [{"max_features": f, "min_samples_leaf": m, "n_estimators": 10 if q else 30,
}
                         for f in ((0.33,) if q else (0.1, 0.33, 1.0))
                         for m in ((5,) if q else (1, 5, 20))],
        "HistGradientBoosting": [{"learning_rate": lr, "max_depth": d, "l2_regularization": l2}
                                 for lr in ((0.1,) if q else (0.03, 0.1, 0.3))
                                 for d in ((3,) if q else (3, None))
                                 for l2 in ((0.0,) if q else (0.0, 1.0))],
    }
    out = {}
    for kind, grid in grids.items():
        def one_kind(kind=kind, grid=grid):
            cap = None if kind == "Ridge" else _sweep_rows(opts)
            got = iter(run_cv(fan, [CV(problem(t), kind, table.Y[:, ti[t]], splits, q, cap, params)
                                    for params in grid for t in MAIN_TARGETS]))
            rows = []
            for params in grid:
                row = {"params": dict(params)}
                for t in MAIN_TARGETS:
                    _, r2, rmse = next(got)
                    row[t] = {"r2": float(np.mean(r2)), "r2_std": float(np.std(r2)),
                              "rmse": float(np.mean(rmse))}
                rows.append(row)
            return rows, {}

        out[kind], _ = sections.get(f"sweeps/{kind}", one_kind)
    return out


#: Candidate models of the performer metric: (name, context, model kind, params).
def performer_candidates(quick: bool):
    c = [("paper-context Ridge on z-targets", PAPER, "Ridge", {"alpha": 10.0}),
         ("context Ridge", DEFAULT, "Ridge", {"alpha": 10.0})]
    if not quick:
        c.append(("context Ridge a=1000", DEFAULT, "Ridge", {"alpha": 1000.0}))
        c.append(("context HGB", DEFAULT, "HistGradientBoosting",
                  {"max_depth": 3, "learning_rate": 0.05, "max_iter": 200}))
    return c


def performer(X, table, splits, ti, oof_paper, opts, log, sections, *, fan, problem):
    from bridge.training.study_tasks import CV, run_cv

    out = {"baselines": {}, "models": {}}
    Z = per_video_z(table.Y, table.video, table.valid)
    for t in MAIN_TARGETS:
        raw = table.Y[:, ti[t]]
        base = {"rms": X[:, -2], "onset": X[:, -1],
                "paper-protocol Ridge": oof_paper[("Ridge", t)]}
        out["baselines"][t] = {name: summary(fold_r(p, raw, table, splits))
                               for name, p in base.items()}
    def scores(spec, kind, params, split, strict=False):
        # context columns are computed where the folds run, once per process
        feats = None if spec.empty else spec.to_json()
        got = run_cv(fan, [CV(problem(t, features=feats, z=True, strict=strict), kind,
                              Z[:, ti[t]], split, opts.quick, None, params)
                           for t in MAIN_TARGETS])
        return {t: summary(fold_r(oof, table.Y[:, ti[t]], table, split))
                for t, (oof, _, _) in zip(MAIN_TARGETS, got)}, {}

    for name, spec, kind, params in performer_candidates(opts.quick):
        got, _ = sections.get(f"performer/{name}", lambda: scores(spec, kind, params, splits))
        out["models"][name] = {"context": spec.to_dict(), "kind": kind, "params": params, **got}
        log(f"  {name}: motion r {out['models'][name]['motion']['mean']:.3f}{fan.status()}")
    strict = unseen_preset_splits(table, splits)
    if strict:
        log("within-video metric, held-out tracks and presets ...")
        out["unseen_presets"] = {"folds": len(strict), "models": {}}
        for name, spec, kind, params in performer_candidates(opts.quick):
            out["unseen_presets"]["models"][name], _ = sections.get(
                f"unseen/{name}", lambda: scores(spec, kind, params, strict, True))

        def baselines():
            rows = {"paper-protocol Ridge": {}, "rms": {}}
            got = run_cv(fan, [CV(problem(t, strict=True), "Ridge", table.Y[:, ti[t]], strict)
                               for t in MAIN_TARGETS])
            for t, (oof, _, _) in zip(MAIN_TARGETS, got):
                rows["paper-protocol Ridge"][t] = summary(fold_r(oof, table.Y[:, ti[t]], table, strict))
                rows["rms"][t] = summary(fold_r(X[:, -2], table.Y[:, ti[t]], table, strict))
            return rows, {}

        out["unseen_presets"].update(sections.get("unseen/baselines", baselines)[0])
    return out


def unseen_preset_splits(table: Table, splits):
    """The same track folds, with every training video whose preset is in the test fold removed.

    A preset is known by its file name, not its path: projectm-data ships edited copies of some
    presets under the same name in other folders (three such pairs are in the corpus list), and
    those must count as one preset here. Empty when the dataset does not know its presets (not a
    corpus) or has too few of them.
    """
    presets = [v.get("info", {}).get("preset") for v in table.videos]
    presets = [None if p is None else os.path.basename(p) for p in presets]
    if any(p is None for p in presets) or len(set(presets)) < 3:
        return []
    presets = np.array(presets, dtype=object)
    out = []
    for train, test in splits:
        held = set(presets[np.unique(table.video[test])])
        keep = train[~np.isin(presets[table.video[train]], list(held))]
        if len(keep) >= max(50, len(train) // 20):
            out.append((keep, test))
    return out
