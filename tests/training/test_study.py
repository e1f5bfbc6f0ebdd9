"""A tiny `vjbridge study --quick` on a real (synthetic) dataset: tables, plots, the performer metric."""

import json
import os

import numpy as np

from bridge.cli import main
from bridge.models.context import DEFAULT, ContextBuilder
from bridge.training.dataset import load_table
from bridge.training.study import folds, per_video_z, within_video_r


def test_quick_study_writes_tables_plots_and_beats_the_paper_protocol(tiny_dataset, tmp_path):
    out = tmp_path / "report"
    assert main(["study", tiny_dataset, "--out", str(out), "--quick", "--jobs", "1"]) == 0
    text = (out / "report.md").read_text()
    for needle in ("Table 1", "0.141 ± 0.085", "Table 2", "-0.98", "Figure 2", "within-video"):
        assert needle in text
    for png in ("fig1_protocol_r2.png", "fig2_fps_sweep.png", "fig3_sweeps.png", "fig4_within_video_r.png"):
        assert (out / png).stat().st_size > 5000
    res = json.loads((out / "results.json").read_text())
    assert res["data"]["groups"] == 4 and res["data"]["folds"] == 4
    assert [round(r["fps"], 1) for r in res["fps_sweep"]] == [4.0, 7.5, 8.0]
    perf = res["performer"]
    paper = perf["baselines"]["motion"]["paper-protocol Ridge"]["mean"]
    ctx = perf["models"]["context Ridge"]["motion"]["mean"]
    # the synthetic videos' motion follows loudness changes: causal context must see that
    assert ctx > paper and ctx > perf["baselines"]["motion"]["rms"]["mean"]
    assert len(perf["models"]["context Ridge"]["motion"]["folds"]) == 4
    # presets known from the corpus manifest: the stricter split is reported too
    assert perf["unseen_presets"]["folds"] >= 2
    assert "Held-out tracks and presets" in text


def test_folds_never_split_a_group(tiny_dataset):
    table = load_table(tiny_dataset, 2756)
    for train, test in folds(table):
        assert not set(table.group[train]) & set(table.group[test])


def test_within_video_r_ignores_per_video_scale():
    rng = np.random.default_rng(0)
    y = rng.random(200)
    video = np.repeat([0, 1], 100)
    pred = y * np.where(video == 0, 1.0, 50.0) + np.where(video == 0, 0.0, 9.0)
    assert within_video_r(pred, y, video) == 1.0 or abs(within_video_r(pred, y, video) - 1) < 1e-12
    z = per_video_z(y[:, None], video, np.ones(200, bool))[:, 0]
    assert abs(z[video == 1].mean()) < 1e-12 and abs(z[video == 1].std() - 1) < 1e-12


def test_context_builder_is_chunk_invariant():
    rng = np.random.default_rng(2)
    frames = rng.normal(-40, 10, (300, 66))
    frames[:, 64] = np.abs(rng.normal(0.1, 0.05, 300))
    frames[:, 65] = np.abs(rng.normal(1, 0.5, 300))
    whole = ContextBuilder(DEFAULT).process(frames)
    b = ContextBuilder(DEFAULT)
    parts, i = [], 0
    for size in (1, 7, 0, 50, 1, 1, 100, 140):
        parts.append(b.process(frames[i:i + size]))
        i += size
    assert i == 300
    assert np.allclose(np.concatenate(parts), whole, rtol=0, atol=1e-12)
    assert whole.shape == (300, DEFAULT.n_outputs())
    b.reset()
    assert np.allclose(b.process(frames[:10]), whole[:10], rtol=0, atol=1e-9)
    # causal: changing the future does not change the past
    later = frames.copy()
    later[200:] += 30
    assert np.allclose(ContextBuilder(DEFAULT).process(later)[:200], whole[:200], rtol=0, atol=1e-9)


def test_single_group_dataset_is_a_clear_error(tmp_path, capsys):
    from tests.training.conftest import make_corpus
    from bridge.training.dataset import build_dataset

    (tmp_path / "v").mkdir()
    make_corpus(tmp_path / "v", tracks=1, presets=2, seconds=4.0)
    build_dataset([str(tmp_path / "v")], str(tmp_path / "d"), fps=[8], jobs=1, progress=False,
                  group_regex=r"^(t\d+)__")
    assert main(["study", str(tmp_path / "d"), "--out", str(tmp_path / "r"), "--quick"]) == 1
    assert "at least 2 groups" in capsys.readouterr().err


def test_unseen_preset_splits_hold_out_presets(tiny_dataset):
    from bridge.training.study import unseen_preset_splits

    table = load_table(tiny_dataset, 2756)
    preset = np.array([v["info"]["preset"] for v in table.videos], dtype=object)
    strict = unseen_preset_splits(table, folds(table))
    assert strict
    for train, test in strict:
        assert not set(preset[table.video[train]]) & set(preset[table.video[test]])


def test_an_interrupted_study_resumes_from_its_finished_sections(tiny_dataset, tmp_path):
    from bridge.training.study import Options, run_study

    resume = str(tmp_path / "resume")
    first = run_study(tiny_dataset, Options(quick=True, resume_dir=resume), log=lambda m: None)
    saved = sorted(os.listdir(resume))
    assert "protocol__Ridge.json" in saved and "protocol__Ridge.npz" in saved
    assert "performer__context_Ridge.json" in saved
    os.remove(os.path.join(resume, "sweeps__HistGradientBoosting.json"))  # "killed" before this one

    lines = []
    again = run_study(tiny_dataset, Options(quick=True, resume_dir=resume), log=lines.append)
    resumed = [line for line in lines if "resumed from" in line]
    sections = [f for f in saved if f.endswith(".json") and f != "key.json"]
    assert len(resumed) == len(sections) - 1  # every finished section but the removed one
    assert again["resumed_sections"] == len(resumed) and first["resumed_sections"] == 0
    assert not any("sweeps/HistGradientBoosting" in line for line in resumed)
    for key in ("protocol", "colour", "fps_sweep", "sweeps", "performer"):
        assert json.dumps(again[key], sort_keys=True) == json.dumps(first[key], sort_keys=True)

    # other options: the saved sections do not apply, the run starts afresh
    lines.clear()
    run_study(tiny_dataset, Options(quick=True, max_rows=500, resume_dir=resume), log=lines.append)
    assert any("starting afresh" in line for line in lines)
    assert not any("resumed from" in line for line in lines)


def test_edited_copies_of_a_preset_in_other_folders_count_as_one_preset(tiny_dataset):
    from bridge.training.study import unseen_preset_splits

    table = load_table(tiny_dataset, 2756)
    for i, v in enumerate(table.videos):  # every copy in its own folder, as projectm-data has some
        v["info"]["preset"] = f"folder{i}/{os.path.basename(v['info']['preset'])}"
    name = np.array([os.path.basename(v["info"]["preset"]) for v in table.videos], dtype=object)
    strict = unseen_preset_splits(table, folds(table))
    assert strict
    for train, test in strict:
        assert not set(name[table.video[train]]) & set(name[table.video[test]])
