"""The light model's card, metrics JSON and colour strips (what `vjbridge export --recipe light --card`
writes next to the model).

Why a generated "does not beat" list: the first attempt's CNN scored exactly the constant's cosine;
a card that only prints tables lets a reader miss that. Every metric of the CNN is compared with every
baseline here and each loss is written out as a sentence.
"""

from __future__ import annotations

import json
import os

import numpy as np

from bridge.training import light_cnn as cnn
from bridge.training.light import HIGHER, LABELS
from bridge.training.light_metrics import PAPER_COSINE

COLUMNS = [("cosine", "cosine"), ("r2_r", "R² r"), ("r2_g", "R² g"), ("r2_b", "R² b"),
           ("r_brightness", "r bright"), ("r_r", "r red"), ("r_g", "r green"), ("r_b", "r blue"),
           ("chroma_error", "chroma err"), ("jitter", "jitter /s"), ("jitter_ratio", "jitter ratio")]
#: Framework measurement (pip install jax optax into the project venv, 2026-12-02; see the card).
FRAMEWORK = {"jax": "0.10.2", "jaxlib": "0.10.2", "optax": "0.2.8", "wheels_mb": 89,
             "installed_mb": 385, "install_seconds": 8.7}


def _f(x, d=3) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{x:.{d}f}"


def metrics_table(models: dict) -> list[str]:
    L = ["| model | " + " | ".join(c for _, c in COLUMNS) + " |",
         "|---" * (len(COLUMNS) + 1) + "|"]
    for name in ("CNN", "Ridge", "MLP", "constant", "constant x level", "per-video mean"):
        if name not in models:
            continue
        m = models[name]
        label = name + (" (oracle)" if name == "per-video mean" else "")
        label = f"**{label}**" if name == "CNN" else label
        cells = []
        for k, _ in COLUMNS:
            v = m[k]["mean"]
            cells.append(_f(v) if k != "cosine" else f"{_f(v)} ± {_f(m[k]['std'])}")
        L.append(f"| {label} | " + " | ".join(cells) + " |")
    return L


def losses(models: dict) -> list[str]:
    """Sentences naming every metric where the CNN does not beat a baseline."""
    out = []
    c = models["CNN"]
    for base in ("constant", "constant x level", "per-video mean", "Ridge", "MLP"):
        if base not in models:
            continue
        b = models[base]
        worse = []
        for k, name in COLUMNS:
            x, y = c[k]["mean"], b[k]["mean"]
            if k == "jitter" or not (np.isfinite(x) and np.isfinite(y)):
                continue
            if k in HIGHER and x <= y:
                worse.append(f"{name} {_f(x)} vs {_f(y)}")
            elif k == "chroma_error" and x >= y:
                worse.append(f"{name} {_f(x)} vs {_f(y)}")
            elif k == "jitter_ratio" and base in ("Ridge", "MLP") and abs(np.log(x)) > abs(np.log(y)):
                worse.append(f"jitter ratio {_f(x, 2)} vs {_f(y, 2)} (further from 1)")
        if worse:
            out.append(f"- does **not** beat {base}{' (oracle)' if base == 'per-video mean' else ''}"
                       f" on: " + "; ".join(worse) + ".")
        else:
            out.append(f"- beats {base} on every metric compared.")
    return out


def done_when(models: dict) -> list[str]:
    c, k = models["CNN"], models["constant"]
    ok_cos = c["cosine"]["mean"] > k["cosine"]["mean"]
    ok_r = c["r_brightness"]["mean"] > 0.0
    ratio = c["jitter_ratio"]["mean"]
    ok_j = np.isfinite(ratio) and ratio <= 1.5
    yes = lambda b: "**yes**" if b else "**no**"  # noqa: E731
    return [f"- cosine above the constant's: {yes(ok_cos)} ({_f(c['cosine']['mean'])} vs "
            f"{_f(k['cosine']['mean'])}; the paper reported {PAPER_COSINE})",
            f"- within-video brightness r above the constant's (0: a constant follows nothing): "
            f"{yes(ok_r)} ({_f(c['r_brightness']['mean'])} ± {_f(c['r_brightness']['std'])} over "
            "folds)",
            f"- jitter within 1.5x the target's: {yes(ok_j)} (ratio {_f(ratio, 2)})"]


def write_strips(info: dict, path: str, *, n_videos: int = 4) -> list[str]:
    """PNG of true vs held-out CNN colour over time for a few videos (one per fold); their names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bridge.training.light import label_colours
    from bridge.training.study import folds

    table, label = info["_table"], info["label"]
    Y = label_colours(table, label)
    pred = info["_oof"][(label, "CNN")]
    picks = []
    for _, test in folds(table)[:n_videos]:
        picks.append(int(np.unique(table.video[test])[0]))
    fig, axes = plt.subplots(len(picks), 1, figsize=(10, 1.1 * len(picks) + 0.4), squeeze=False)
    names = []
    for ax, v in zip(axes[:, 0], picks):
        rows = np.flatnonzero((table.video == v) & table.valid)
        t = rows - rows[0]
        img = np.clip(np.stack([Y[rows], pred[rows]]), 0, 1)
        secs = len(t) / info["fps"]
        ax.imshow(img, aspect="auto", interpolation="nearest", extent=(0, secs, 1.5, -0.5))
        ax.set_yticks([0, 1], ["true", "CNN"])
        info_v = table.videos[v].get("info", {}) or {}
        name = (f"{info_v.get('track', table.videos[v]['group'])} / "
                f"{os.path.basename(str(info_v.get('preset', table.videos[v]['path'])))[:50]}")
        names.append(name)
        ax.set_title(name, fontsize=8, loc="left")
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("seconds (held-out fold prediction)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return names


def _compute_seconds(info: dict) -> float:
    return sum(sum(r["seconds"].values()) for r in info["results"].values()) + \
        info["final_fit_seconds"]


def public(info: dict) -> dict:
    """The JSON-able part of an export's info (no arrays)."""
    return {k: v for k, v in info.items() if not k.startswith("_")}


def write_card(info: dict, path: str, *, data: str, rebuild: str, strips: str | None,
               strip_names: list[str], report: str | None = None) -> str:
    from bridge.training.dataset import load_manifest

    manifest = load_manifest(data)
    o = info["options"]
    here = os.path.dirname(os.path.abspath(path))
    ctx_cols = info["n_inputs"]
    res = info["results"]
    L = [f"# {os.path.basename(info['path'])}", "",
         f"Audio in, a light colour out: a causal 1-D CNN (the Beatomizer paper's model family) "
         f"predicting the **{info['label']} colour** of a visualizer frame as linear RGB in [0, 1]. "
         f"Shipped label: {info['label_why']}.", "",
         "## Data", "",
         f"- dataset `{data}`, data hash `{info['data_hash'][:16]}`: {info['videos']} videos in "
         f"{info['groups']} groups (tracks), {info['rows']} valid rows at {info['fps']:.4f} fps "
         f"(hop {info['hop']})",
         f"- alignment: {manifest['alignment']}",
         *[f"- label **{k}**: {v}" for k, v in LABELS.items() if k in res],
         "", "## Window and inputs", "",
         f"- **{info['window']} frames at {info['fps']:.4f} fps = {info['window_seconds']:.2f} s** "
         f"(hop {info['hop']} = 4 x the 60 Hz live hop 368, so the live runner evaluates it every "
         "frame) of the six context summary channels (loud, low, mid, high, rms_db, onset): "
         f"frames t-{info['window'] - 1}..t-1 are the context's `lags` "
         f"1..{info['window'] - 1}, frame t is computed inside the graph from the frame's features "
         "exactly as the live `ContextBuilder` computes a channel.",
         f"- {'the frame' + chr(39) + 's 66 features and ' if o['frame_in_dense'] else ''}the running "
         f"mean / z-score / activity at time constants "
         f"{', '.join(f'{t:g}' for t in o['taus'])} frames join at the dense layers: "
         f"{ctx_cols} input columns in all (context `{json.dumps(info['context'])}`).",
         "- why not a window of all 66 features: `ContextSpec` (what the live side serves) keeps "
         "lags of the summary channels only; a full-feature window needs a new context field in "
         "the live builder, outside this change. The paper's ~350 inputs compare with these "
         f"{ctx_cols}.",
         "", "## Model and training", "",
         f"- Conv1D({cnn.CONV[0]}, k={cnn.KERNEL}, causal padding) -> ReLU -> MaxPool(2), "
         f"x{len(cnn.CONV)}, then Dense {' -> '.join(str(h) for h in cnn.DENSE)} -> 3 -> sigmoid",
         f"- loss: (1 - cosine) + {o['mse']:g} x MSE / target variance (cosine alone leaves the "
         f"brightness free) + {o['smooth']:g} x smoothness: mean relu(|Δ prediction| - |Δ target|) "
         "over consecutive frames, relative to the target's mean |Δ|"
         + (f" + {o['within']:g} x chunk-centred MSE (prediction and target each minus its mean "
            f"over the {o['chunk']}-frame chunk, over the target's within-chunk variance: the "
            "movement, which the plain MSE drowns in between-video level differences)"
            if o.get("within") else ""),
         f"- AdamW (lr {o['lr']:g}, cosine decay, weight decay 1e-4), {o['epochs']} epochs over "
         f"chunks of {o['chunk']} consecutive frames, {o['batch']} chunks a batch, seed {o['seed']}; "
         f"epochs chosen to keep the whole export (5 folds x 2 labels + baselines + the final fit) "
         f"near 25 min on 2 busy cores; training took {_compute_seconds(info) / 60:.1f} min "
         f"(every fold of every model + the final fit of {info['final_fit_seconds']:.0f} s; this "
         f"run {info['seconds'] / 60:.1f} min with {info['resumed_sections']} cached sections "
         "resumed)",
         f"- ONNX graph written with `onnx.helper` from the trained weights ({info['bytes']} bytes); "
         f"ONNX vs JAX max |diff| {info['max_abs_diff']:.2g} on {info['held_back_rows']} rows held "
         "back from the final fit (export refuses above 1e-5)",
         "", "## Framework", "",
         f"JAX {FRAMEWORK['jax']} + optax {FRAMEWORK['optax']} behind the `[train]` extra, measured "
         f"installing them into the project venv: {FRAMEWORK['wheels_mb']} MB of wheels (jaxlib "
         f"85 MB), +{FRAMEWORK['installed_mb']} MB on disk, {FRAMEWORK['install_seconds']} s for "
         "`pip install jax optax` from a local wheel mirror (download time not included). PyTorch "
         "was not installed to measure it: its default Linux wheels on PyPI depend on the nvidia-* "
         "CUDA wheels, several GB. The live daemon needs neither: it runs the ONNX graph.",
         ""]
    for label in res:
        ship = " (shipped)" if label == info["label"] else " (not shipped)"
        L += [f"## Cross-validation: {label} colour{ship}", "",
              f"GroupKFold by track, {info['folds']} folds; mean over folds (cosine ± std). "
              f"The paper's cosine: **{PAPER_COSINE}**; ours "
              f"**{res[label]['models']['CNN']['cosine']['mean']:.4f}**, the constant's "
              f"**{res[label]['models']['constant']['cosine']['mean']:.4f}**. r = within-video "
              "Pearson r, mean over held-out videos (a prediction that does not move counts as 0); "
              "chroma err = mean distance of rgb/(r+g+b) (0 = same hue and saturation at any "
              "brightness); jitter = mean |Δ| per second; ratio = prediction's / target's. Ridge "
              "and MLP outputs are clipped to [0, 1]; the MLP trains on at most "
              f"{o['mlp_max_rows']} rows a fold.", "",
              *metrics_table(res[label]["models"]), "",
              f"Target jitter: {res[label]['models']['CNN']['jitter_target']['mean']:.4f} /s. "
              "Seconds per model (5 folds): " + ", ".join(
                  f"{m} {s:.0f}" for m, s in res[label]["seconds"].items()) + ".", "",
              "Where the CNN does **not** beat a baseline:", "", *losses(res[label]["models"]), "",
              "Issue 10's bar (GroupKFold part):", "", *done_when(res[label]["models"]), ""]
    L += ["## Outputs", "",
          "`r`, `g`, `b` (min 0, max 1): linear RGB of the colour, declared as one colour in the "
          f"metadata `vjbridge.colours` = `{json.dumps(info['colours'])}`; `vjbridge.train_mean` "
          f"= {[round(v, 4) for v in info['train_mean']]} (the constant baseline).", ""]
    if strips:
        rel = os.path.relpath(strips, here)
        L += ["## Colour strips", "",
              "True colour (top) and the CNN's held-out-fold prediction (bottom) of "
              f"{len(strip_names)} videos, one per fold: " + "; ".join(strip_names) + ".", "",
              f"![colour strips]({rel})", ""]
    if report:
        rel = os.path.relpath(report, here)
        L += [f"The study report (the other targets): [{rel}/report.md]({rel}/report.md).", ""]
    L += ["## Rebuild", "", "```sh", rebuild, "```", ""]
    text = "\n".join(L)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)
    return text
