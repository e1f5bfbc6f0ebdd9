"""Markdown tables and PNG plots of a study result (the paper's numbers printed beside ours)."""

from __future__ import annotations

import json
import os

from bridge.training.study import COLOUR_TARGETS, MAIN_TARGETS, PAPER_8FPS, PAPER_HUE


def _f(x, digits=3):
    return "—" if x is None or x != x else f"{x:.{digits}f}"


def _ms(s, digits=3):
    return f"{_f(s['mean'], digits)} ± {_f(s['std'], digits)}"


def write_report(res: dict, out: str) -> str:
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    plots = _plots(res, out)
    d = res["data"]
    L = [f"# vjbridge study{' (quick mode: reduced grids and forests)' if res['quick'] else ''}", "",
         "## Data", "",
         f"- dataset: `{d['path']}` (data hash `{d['data_hash'][:16]}`)",
         f"- {d['videos']} videos in {d['groups']} groups, {d['rows']} valid frames at "
         f"{d['fps']:.3f} fps (hop {d['hop']}); GroupKFold by group, {d['folds']} folds",
         f"- features: {d['feature_spec']['n_mels']} log-mel dB + rms + onset, n_fft "
         f"{d['feature_spec']['n_fft']} @ {d['feature_spec']['sample_rate']} Hz",
         f"- RandomForest (Table 1, Table 2) trains on at most {res.get('max_rows') or 'all'} "
         f"random rows per fold; forest/boosting sweeps on at most {res.get('sweep_rows') or 'all'}",
         "- targets: " + "; ".join(f"**{k}**: {v}" for k, v in d["targets"].items()
                                   if k in ("motion", "weight")), "",
         "## Table 1: the paper's protocol (raw targets, 66 features frame by frame)", "",
         "R² is the mean over folds (± std over folds); the paper's numbers are its 8 fps "
         "results, the mean over motion and weight.", "",
         "| model | motion R² | motion RMSE | weight R² | weight RMSE | mean R² (± std) | mean RMSE "
         "| paper R² (± std) | paper RMSE |", "|---|---|---|---|---|---|---|---|---|"]
    for kind, r in res["protocol"].items():
        p = PAPER_8FPS[kind]
        L.append(f"| {kind} | {_ms(r['motion']['r2'])} | {_f(r['motion']['rmse']['mean'], 4)} | "
                 f"{_ms(r['weight']['r2'])} | {_f(r['weight']['rmse']['mean'], 4)} | "
                 f"{_f(r['mean']['r2'])} ± {_f(r['mean']['r2_std'])} | {_f(r['mean']['rmse'], 4)} | "
                 f"{p[0]:.3f} ± {p[1]:.3f} | {p[2]} |")
    L += ["", "How to read it: this R² asks whether a frame-by-frame model predicts each held-out "
          "video's raw motion *including its overall level*. In visualizer videos that level is "
          "set mostly by the visual style (the preset), which the audio cannot know, so an R² near "
          "or below 0 means no better than the training mean across videos; it does not say "
          "whether a prediction follows the motion within a video. Figure 4 measures that.",
          "", f"![paper protocol]({plots['protocol']})", "", "## Table 2: colour targets (the paper's negative result)", "",
          "| model | hue R² | saturation R² | value R² | paper hue R² |", "|---|---|---|---|---|"]
    for kind, r in res["colour"].items():
        L.append(f"| {kind} | " + " | ".join(_ms(r[t]["r2"]) for t in COLOUR_TARGETS)
                 + f" | {PAPER_HUE[kind]} |")
    L += ["", "## Figure 2: frame-rate sweep (Ridge α=1, raw targets)", "",
          "| fps | hop | rows | motion R² | weight R² | motion RMSE | weight RMSE |",
          "|---|---|---|---|---|---|---|"]
    for row in res["fps_sweep"]:
        L.append(f"| {row['fps']:.3g} | {row['hop']} | {row['rows']} | {_ms(row['motion']['r2'])} | "
                 f"{_ms(row['weight']['r2'])} | {_f(row['motion']['rmse']['mean'], 4)} | "
                 f"{_f(row['weight']['rmse']['mean'], 4)} |")
    L += ["", f"![frame-rate sweep]({plots['fps']})", "",
          "## Figure 3: hyper-parameter sweeps (mean R² over folds, raw targets)", ""]
    for kind, rows in res["sweeps"].items():
        L += [f"**{kind}**", "", "| params | motion R² | weight R² | motion RMSE |", "|---|---|---|---|"]
        for row in rows:
            params = ", ".join(f"{k}={v}" for k, v in row["params"].items())
            L.append(f"| {params} | {_f(row['motion']['r2'])} ± {_f(row['motion']['r2_std'])} | "
                     f"{_f(row['weight']['r2'])} ± {_f(row['weight']['r2_std'])} | "
                     f"{_f(row['motion']['rmse'], 4)} |")
        L.append("")
    L += [f"![sweeps]({plots['sweeps']})", "",
          "## Figure 4: what a performer needs: within-video correlation", "",
          "Pearson r between prediction and target inside each held-out video, averaged over the "
          "fold's videos; mean ± std over the same folds. Context models are trained on per-video "
          "z-scored targets (r is unchanged by per-video scaling, so baselines use raw targets).", "",
          "| predictor | motion r | weight r |", "|---|---|---|"]
    perf = res["performer"]
    for name in perf["baselines"]["motion"]:
        L.append(f"| baseline: {name} | {_ms(perf['baselines']['motion'][name])} | "
                 f"{_ms(perf['baselines']['weight'][name])} |")
    for name, m in perf["models"].items():
        L.append(f"| {name} | {_ms(m['motion'])} | {_ms(m['weight'])} |")
    if perf.get("unseen_presets"):
        u = perf["unseen_presets"]
        L += ["", f"**Held-out tracks and presets** (the same {u['folds']} track folds, training "
                  "videos whose preset appears in the test fold removed: music *and* visuals unseen):",
              "", "| predictor | motion r | weight r |", "|---|---|---|"]
        for name in ("rms", "paper-protocol Ridge"):
            L.append(f"| baseline: {name} | {_ms(u[name]['motion'])} | {_ms(u[name]['weight'])} |")
        for name, m in u["models"].items():
            L.append(f"| {name} | {_ms(m['motion'])} | {_ms(m['weight'])} |")
    goal = goal_check(res)
    L += ["", f"![within-video r]({plots['performer']})", "", "**Goal** (context model within-video "
          "r ≥ 1.5x the paper-protocol Ridge's and above raw RMS, on motion): " + goal["text"], "",
          f"Study time: {res['seconds']} s" + (
              f" (this run; {res['resumed_sections']} finished sections were read back from an "
              "earlier, interrupted run)." if res.get("resumed_sections") else ".")]
    text = "\n".join(L) + "\n"
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(text)
    return text


def best_context_model(res: dict) -> str:
    models = {k: v for k, v in res["performer"]["models"].items() if k.startswith("context")}
    return max(models, key=lambda k: models[k]["motion"]["mean"])


def goal_check(res: dict) -> dict:
    perf = res["performer"]
    name = best_context_model(res)
    ours = perf["models"][name]["motion"]["mean"]
    paper = perf["baselines"]["motion"]["paper-protocol Ridge"]["mean"]
    rms = perf["baselines"]["motion"]["rms"]["mean"]
    ok = ours >= 1.5 * paper and ours > rms and paper == paper
    ratio = ours / paper if paper and paper > 0 else float("nan")
    return {"model": name, "ok": bool(ok), "ratio": ratio,
            "text": f"{'met' if ok else 'NOT met'}: {name} r = {ours:.3f} vs paper-protocol Ridge "
                    f"{paper:.3f} ({_f(ratio, 2)}x) and raw RMS {rms:.3f}."}


def _plots(res: dict, out: str) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import numpy as np

    names = {}
    fig, ax = plt.subplots(figsize=(6, 3.5))
    kinds = list(res["protocol"])
    x = np.arange(len(kinds))
    for j, t in enumerate(MAIN_TARGETS):
        ax.bar(x + (j - 1) * 0.27, [res["protocol"][k][t]["r2"]["mean"] for k in kinds], 0.27,
               yerr=[res["protocol"][k][t]["r2"]["std"] for k in kinds], capsize=3,
               label=f"{t} (ours)")
    ax.bar(x + 0.27, [PAPER_8FPS[k][0] for k in kinds], 0.27, yerr=[PAPER_8FPS[k][1] for k in kinds],
           capsize=3, color="k", alpha=0.6, label="paper (mean of both)")
    ax.set_xticks(x, kinds, fontsize=8)
    ax.set_ylabel("GroupKFold R²")
    ax.axhline(0, color="grey", lw=0.5)
    ax.legend(fontsize=8)
    ax.set_title("paper protocol: raw targets, 66 features", fontsize=9)
    names["protocol"] = _save(fig, out, "fig1_protocol_r2.png")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    rows = res["fps_sweep"]
    for t in MAIN_TARGETS:
        ax.errorbar([r["fps"] for r in rows], [r[t]["r2"]["mean"] for r in rows],
                    yerr=[r[t]["r2"]["std"] for r in rows], marker="o", capsize=3, label=f"{t} (ours)")
    ax.errorbar([8], [PAPER_8FPS["Ridge"][0]], yerr=[PAPER_8FPS["Ridge"][1]], marker="s", color="k",
                capsize=3, label="paper, Ridge 8 fps")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("feature frame rate (fps)")
    ax.set_ylabel("GroupKFold R²")
    ax.axhline(0, color="grey", lw=0.5)
    ax.legend(fontsize=8)
    ax.set_title("Ridge, raw targets")
    names["fps"] = _save(fig, out, "fig2_fps_sweep.png")

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.5))
    for ax, (kind, rows) in zip(axes, res["sweeps"].items()):
        labels = [",".join(f"{v}" for v in r["params"].values()) for r in rows]
        for t in MAIN_TARGETS:
            ax.plot(range(len(rows)), [r[t]["r2"] for r in rows], marker="o", label=t)
        ax.set_xticks(range(len(rows)), labels, rotation=60, fontsize=6)
        ax.set_title(f"{kind} ({', '.join(rows[0]['params'])})", fontsize=8)
        ax.axhline(PAPER_8FPS[kind][0], color="k", ls="--", lw=0.8, label="paper")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("GroupKFold R²")
    names["sweeps"] = _save(fig, out, "fig3_sweeps.png")

    perf = res["performer"]
    entries = [(f"{n}", perf["baselines"]["motion"][n], perf["baselines"]["weight"][n])
               for n in perf["baselines"]["motion"]]
    entries += [(n, m["motion"], m["weight"]) for n, m in perf["models"].items()]
    fig, ax = plt.subplots(figsize=(8, 3.8))
    x = np.arange(len(entries))
    for j, (t, off) in enumerate((("motion", -0.2), ("weight", 0.2))):
        ax.bar(x + off, [e[1 + j]["mean"] for e in entries], 0.4,
               yerr=[e[1 + j]["std"] for e in entries], capsize=3, label=t)
    ax.set_xticks(x, [e[0] for e in entries], rotation=20, ha="right", fontsize=7)
    ax.set_ylabel("within-video Pearson r")
    ax.axhline(0, color="grey", lw=0.5)
    ax.legend(fontsize=8)
    names["performer"] = _save(fig, out, "fig4_within_video_r.png")
    return names


def _save(fig, out, name):
    fig.tight_layout()
    fig.savefig(os.path.join(out, name), dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return name
