"""`vjbridge dataset` and `vjbridge study` on a real Dask cluster on loopback give exactly a local
run's results, survive a worker killed mid-run, and resume after an interruption (issue 15).

The cluster is what a user starts on their machines: `dask scheduler` and two `dask worker`
processes (one thread each), the vjbridge command a third process pointed at it with
``--scheduler tcp://127.0.0.1:PORT`` (tests/training/dask_peers.py). The reference is the same
command run locally with ``--jobs 1`` on the same videos.

"The same result" is checked on everything a dataset holds: the whole ``manifest.json`` (its
``data_hash``, the content hash of the inputs the study and the exported models record, the videos,
groups, row counts) and every per-video array (X, Y, valid, time at every hop) bit for bit; for the
study, every number in ``results.json``.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tests.training import dask_witness as W  # imports distributed: [train]; missing = a failure
from tests.training.conftest import make_corpus
from tests.training.dask_peers import DaskCluster, env, vjbridge, vjbridge_cmd

N_VIDEOS = 8  # 4 tracks x 2 presets
DATASET_ARGS = ("--fps", "4,8", "--group-regex", "^(.*)__", "--no-progress")
STUDY_ARGS = ("--quick", "--fps", "8")
#: results.json entries that describe the run, not the data: wall time, where the data was.
VOLATILE = {("seconds",), ("data", "path"), ("resumed_sections",)}


# ---- fixtures --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """8 videos of 40 s (64 px, 12 fps): ~1 s of work each, long enough to kill a worker mid-task."""
    folder = tmp_path_factory.mktemp("dask-corpus") / "videos"
    folder.mkdir()
    make_corpus(folder, tracks=4, presets=2, seconds=40.0)
    return folder


@pytest.fixture(scope="module")
def local(corpus, tmp_path_factory):
    """The reference: the same dataset and study run locally in one process."""
    root = tmp_path_factory.mktemp("dask-local")
    data, report = root / "data", root / "report"
    ok(vjbridge("dataset", corpus, *DATASET_ARGS, "--out", data, "--jobs", "1"))
    ok(vjbridge("study", data, *STUDY_ARGS, "--out", report, "--jobs", "1"))
    return SimpleNamespace(data=data, report=report)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with DaskCluster(tmp_path_factory.mktemp("dask-cluster"), workers=2) as c:
        yield c


# ---- helpers ---------------------------------------------------------------------------------------
def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"{proc.args}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def assert_same_dataset(ref: Path, got: Path) -> None:
    mr = json.loads((ref / "manifest.json").read_text())
    mg = json.loads((got / "manifest.json").read_text())
    assert len(mr["videos"]) == N_VIDEOS and not mr["skipped"]
    assert mg["data_hash"] == mr["data_hash"]
    assert mg == mr  # videos, groups, rows, specs: everything
    for v in mr["videos"]:
        meta_r = json.loads((ref / "videos" / v["id"] / "meta.json").read_text())
        meta_g = json.loads((got / "videos" / v["id"] / "meta.json").read_text())
        assert meta_g["key"] == meta_r["key"] and meta_g["rows"] == meta_r["rows"]
        for name in v["files"].values():
            with np.load(ref / "videos" / v["id"] / name) as a, \
                    np.load(got / "videos" / v["id"] / name) as b:
                assert sorted(a.files) == sorted(b.files) == ["X", "Y", "time", "valid"]
                for k in a.files:
                    assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), \
                        f"{v['path']} {name} {k} differs from the local run"


def _numbers(obj, path=()):
    """Flattened ``{path: value}`` of a results.json, NaN as a string (NaN != NaN)."""
    if path in VOLATILE:
        return {}
    if isinstance(obj, dict):
        return {k: v for key, val in obj.items() for k, v in _numbers(val, path + (key,)).items()}
    if isinstance(obj, list):
        return {k: v for i, val in enumerate(obj) for k, v in _numbers(val, path + (i,)).items()}
    if isinstance(obj, float) and math.isnan(obj):
        return {path: "nan"}
    return {path: obj}


def assert_same_study(ref: Path, got: Path) -> None:
    a = _numbers(json.loads((ref / "results.json").read_text()))
    b = _numbers(json.loads((got / "results.json").read_text()))
    assert len(a) > 100  # the quick study: protocol, colour, sweeps, performer tables
    assert a.keys() == b.keys()
    diff = {k: (a[k], b[k]) for k in a if a[k] != b[k]}
    assert not diff, f"{len(diff)} numbers differ from the local run, e.g. {list(diff.items())[:5]}"


def metas(data: Path) -> dict[str, int]:
    """``{video id: meta.json mtime}`` of the videos finished so far."""
    out = {}
    for p in (data / "videos").glob("*/meta.json"):
        try:
            out[p.parent.name] = p.stat().st_mtime_ns
        except FileNotFoundError:
            pass
    return out


def start(*args) -> subprocess.Popen:
    return subprocess.Popen(vjbridge_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env())


def finish(proc: subprocess.Popen, timeout: float = 300) -> subprocess.CompletedProcess:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"{proc.args} still running after {timeout} s:\n{out}\n{err}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def wait_until(cond, what: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the run ended (rc {proc.returncode}) before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"no {what} within {timeout} s")
        time.sleep(0.01)


# ---- tests -----------------------------------------------------------------------------------------
def test_dataset_and_study_on_a_real_cluster_equal_a_local_run(corpus, local, cluster, tmp_path):
    data, report = tmp_path / "data", tmp_path / "report"
    ok(vjbridge("dataset", corpus, *DATASET_ARGS, "--out", data, "--scheduler", cluster.address))
    assert_same_dataset(local.data, data)
    ran = W.finished(cluster.witness_file)
    assert len(ran) >= N_VIDEOS, f"the videos did not run on the cluster's workers: {ran}"
    assert {w for w, _ in ran} == {"w1", "w2"}, "both workers should have taken videos"

    ok(vjbridge("study", data, *STUDY_ARGS, "--out", report, "--scheduler", cluster.address))
    assert_same_study(local.report, report)
    assert len(W.finished(cluster.witness_file)) > len(ran), "the study ran no task on the cluster"
    assert (report / "report.md").read_text().count("\n") > 20


def sections(report: Path) -> list[str]:
    """The study sections finished so far (``REPORT/.resume/*.json`` but its key)."""
    return [p.name for p in (report / ".resume").glob("*.json") if p.name != "key.json"]


def test_a_worker_killed_mid_run_leaves_the_result_unchanged(corpus, local, tmp_path):
    data, report = tmp_path / "data", tmp_path / "report"
    with DaskCluster(tmp_path / "cluster", workers=2) as c:
        proc = start("dataset", corpus, *DATASET_ARGS, "--out", data, "--scheduler", c.address)
        seen = set()

        def just_started(victim, prefix):
            """``victim`` has just begun a ``prefix`` task, after another task finished."""
            def check():
                now = {k for w, k in W.started(c.witness_file)
                       if w == victim and k.startswith(prefix)}
                fresh = now - seen
                seen.update(now)
                done = [k for _, k in W.finished(c.witness_file) if k.startswith(prefix)]
                return bool(done) and bool(fresh & {k for w, k in W.running(c.witness_file)
                                                    if w == victim})
            return check

        # a video takes ~1 s: w1 dies holding one it has just begun
        wait_until(just_started("w1", "process_video"), "a video done and w1 on another", proc)
        lost = {k for w, k in W.running(c.witness_file) if w == "w1"}
        c.kill_worker("w1")
        print(f"killed w1 holding {lost} after {len(W.finished(c.witness_file))} task(s) finished")
        ok(finish(proc))
        assert_same_dataset(local.data, data)
        redone = {k for w, k in W.finished(c.witness_file) if w == "w2"}
        assert lost and lost <= redone, f"w1 died holding {lost}; w2 finished {redone}"

        # the study's folds (tasks of a few ms to a second): w3 dies in the middle of them
        c.start_worker("w3")
        c.wait_for_workers(2)
        proc = start("study", data, *STUDY_ARGS, "--out", report, "--scheduler", c.address)
        wait_until(just_started("w3", "fold_task"), "a fold done and w3 on another", proc)
        c.kill_worker("w3")
        ok(finish(proc))
        assert_same_study(local.report, report)
        folds = W.finished(c.witness_file)
        assert {w for w, k in folds if k.startswith("fold_task")} >= {"w2", "w3"}


def test_an_interrupted_run_resumes_from_the_cache(corpus, local, cluster, tmp_path):
    data, report = tmp_path / "data", tmp_path / "report"
    proc = start("dataset", corpus, *DATASET_ARGS, "--out", data, "--scheduler", cluster.address)
    wait_until(lambda: len(metas(data)) >= 3, "3 videos finished", proc)
    proc.send_signal(signal.SIGINT)
    stopped = finish(proc, timeout=30)
    assert stopped.returncode == 130, (stopped.returncode, stopped.stderr)
    assert "Traceback" not in stopped.stderr, stopped.stderr
    cluster.wait_idle()  # a task in hand when its client left still finishes (and is cached)
    before = metas(data)
    assert 3 <= len(before) < N_VIDEOS, f"{len(before)} of {N_VIDEOS} done when interrupted"
    print(f"dataset interrupted with {len(before)} of {N_VIDEOS} videos done")

    ok(vjbridge("dataset", corpus, *DATASET_ARGS, "--out", data, "--scheduler", cluster.address))
    after = metas(data)
    assert_same_dataset(local.data, data)
    assert all(after[v] == t for v, t in before.items()), "a finished video was computed again"
    assert len([v for v in after if v not in before]) == N_VIDEOS - len(before)

    # the study: interrupted after two sections, the rerun reads them back
    proc = start("study", data, *STUDY_ARGS, "--out", report, "--scheduler", cluster.address)
    wait_until(lambda: len(sections(report)) >= 2, "2 study sections finished", proc)
    proc.send_signal(signal.SIGINT)
    stopped = finish(proc, timeout=30)
    assert stopped.returncode == 130 and "Traceback" not in stopped.stderr, stopped.stderr
    kept = sections(report)
    print(f"study interrupted with {len(kept)} section(s) done: {kept}")
    cluster.wait_idle()
    rerun = ok(vjbridge("study", data, *STUDY_ARGS, "--out", report, "--scheduler",
                        cluster.address))
    assert json.loads((report / "results.json").read_text())["resumed_sections"] == len(kept)
    assert rerun.stdout.count("resumed from") + rerun.stderr.count("resumed from") == len(kept)
    assert_same_study(local.report, report)
