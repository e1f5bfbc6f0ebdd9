"""bridge.training.fanout: every long job gives the same results on local processes and on a real
dask.distributed LocalCluster, resumes from its cache, and a bad --jobs / --dask / --scheduler is
one line. (A real `dask scheduler` + `dask worker` cluster: tests/training/test_dask_cluster.py.)"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from bridge.cli import main
from tests.peers.base import free_port, poll, require
from tests.training.conftest import make_corpus

FPS = "4,8"
REPO = Path(__file__).resolve().parents[2]
STATUS = re.compile(r"\(\d+ running, 0 failed; \d worker\(s\): \S+:\d+ [\d.]+/min")


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """Four short synthetic videos (two tracks, two presets) with their audio."""
    root = tmp_path_factory.mktemp("fanout-videos")
    make_corpus(root, tracks=2, presets=2, seconds=6.0)
    return root


@pytest.fixture(scope="module")
def reference(videos, tmp_path_factory):
    """The dataset built in this process (--jobs 1): what every other backend must equal."""
    out = tmp_path_factory.mktemp("fanout-ref") / "data"
    assert main(["dataset", str(videos), "--fps", FPS, "--out", str(out), "--jobs", "1",
                 "--no-progress"]) == 0
    return out


def _content(data: Path) -> tuple[dict, dict]:
    """The manifest (minus nothing) and every array of every video file."""
    manifest = json.loads((data / "manifest.json").read_text())
    arrays = {}
    for v in manifest["videos"]:
        for name in v["files"].values():
            with np.load(data / "videos" / v["id"] / name) as z:
                arrays[(v["id"], name)] = {k: z[k] for k in z.files}
    return manifest, arrays


def _assert_same_dataset(a: Path, b: Path, *, paths: bool = True) -> None:
    """Same manifest and arrays (``paths``: the video paths too, when both were given alike)."""
    ma, xa = _content(a)
    mb, xb = _content(b)

    def entries(m):
        return [{k: v for k, v in e.items() if paths or k != "path"} for e in m["videos"]]

    assert ma["data_hash"] == mb["data_hash"] and entries(ma) == entries(mb)
    assert len(ma["videos"]) == 4 and xa.keys() == xb.keys()
    for k in xa:
        for name in xa[k]:
            assert np.array_equal(xa[k][name], xb[k][name]), (k, name)


def _stamps(data: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in sorted((data / "videos").rglob("*.npz"))}


def test_dataset_on_local_processes_and_a_local_dask_cluster_equals_the_serial_build(
        videos, reference, tmp_path, capsys):
    local, dask = tmp_path / "local", tmp_path / "dask"
    assert main(["dataset", str(videos), "--fps", FPS, "--out", str(local), "--jobs", "2",
                 "--no-progress"]) == 0
    assert main(["dataset", str(videos), "--fps", FPS, "--out", str(dask), "--jobs", "2",
                 "--dask"]) == 0
    out = capsys.readouterr().out
    _assert_same_dataset(reference, local)
    _assert_same_dataset(reference, dask)
    # the distributed run's progress: one line per video with running/failed and throughput
    lines = [ln for ln in out.splitlines() if ln.startswith("[")]
    assert len(lines) == 4 and all(STATUS.search(ln) for ln in lines), out
    assert lines[-1].startswith("[4/4] ")
    # a second run is a cache hit: nothing rewritten, same data
    before = _stamps(dask)
    assert main(["dataset", str(videos), "--fps", FPS, "--out", str(dask), "--jobs", "2",
                 "--dask", "--no-progress"]) == 0
    assert _stamps(dask) == before
    _assert_same_dataset(reference, dask)


@contextlib.contextmanager
def worker_without(hidden: Path):
    """A scheduler here and one real `dask worker` in its own mount namespace, where ``hidden``
    is an empty tmpfs (what a machine without that shared folder sees); yields the address."""
    require("unshare", "util-linux")
    from distributed import LocalCluster

    with LocalCluster(n_workers=0, processes=False, protocol="tcp://", host="127.0.0.1",
                      scheduler_port=0, dashboard_address=":0") as cluster:
        address = cluster.scheduler_address
        worker = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             'mount -t tmpfs none "$0" && exec "$1" -m distributed.cli.dask_worker "$2" '
             '--nthreads 1 --no-nanny', str(hidden), sys.executable, address],
            env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, cwd="/")  # not the command's working folder
        try:
            poll(lambda: cluster.scheduler.workers or worker.poll() is not None, timeout=60,
                 what="the worker to join")
            assert worker.poll() is None, worker.stderr.read().decode()[-3000:]
            yield address
        finally:
            worker.terminate()
            worker.wait(timeout=30)


def test_workers_that_cannot_see_the_dataset_folder_return_the_arrays(videos, reference,
                                                                     tmp_path, monkeypatch):
    """The worker (in another working folder; the command is given relative paths) reads the
    videos by path and sends back the per-video arrays; the command writes them into DATA."""
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    monkeypatch.chdir(tmp_path)
    argv = ["dataset", os.path.relpath(videos), "--fps", FPS, "--out", "hidden/data",
            "--no-progress"]
    with worker_without(hidden) as address:
        assert main(argv + ["--scheduler", address]) == 0
        _assert_same_dataset(reference, hidden / "data", paths=False)
        manifest = json.loads((hidden / "data" / "manifest.json").read_text())
        assert all(not os.path.isabs(v["path"]) for v in manifest["videos"])  # as given
        before = _stamps(hidden / "data")  # resumed: the client's cache, by path and content
        assert main(argv + ["--scheduler", address]) == 0
        assert _stamps(hidden / "data") == before


def test_workers_that_cannot_see_the_videos_are_one_line_not_skipped_videos(videos, tmp_path,
                                                                           capsys):
    hidden = tmp_path / "hidden"
    shutil.copytree(videos, hidden)
    with worker_without(hidden) as address:
        assert main(["dataset", str(hidden), "--fps", FPS, "--out", str(tmp_path / "data"),
                     "--scheduler", address, "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "a Dask worker on" in err[0] and "cannot read" in err[0], err
    assert "the workers must see the videos at the same path" in err[0]


def test_study_folds_on_a_local_dask_cluster_give_the_serial_numbers(tiny_dataset, tmp_path):
    runs = {"serial": ["--jobs", "1"], "dask": ["--jobs", "2", "--dask"]}
    results = {}
    for name, extra in runs.items():
        out = tmp_path / name
        assert main(["study", tiny_dataset, "--out", str(out), "--quick", *extra]) == 0
        results[name] = json.loads((out / "results.json").read_text())
        results[name].pop("seconds")
    assert results["serial"] == results["dask"]
    assert results["serial"]["data"]["folds"] == 4


def test_evaluate_on_local_processes_and_dask_gives_the_serial_scores(tiny_dataset, tmp_path):
    model = tmp_path / "default.onnx"
    assert main(["export", tiny_dataset, "--out", str(model), "--recipe", "default"]) == 0
    results = {}
    for name, extra in {"serial": ["--jobs", "1"], "local": ["--jobs", "2"],
                        "dask": ["--jobs", "2", "--dask"]}.items():
        out = tmp_path / name
        assert main(["evaluate", str(model), tiny_dataset, "--out", str(out), *extra]) == 0
        results[name] = json.loads((out / "results.json").read_text())
    assert results["serial"] == results["local"] == results["dask"]
    assert results["serial"]["targets"]["motion"]["predictors"]["default.onnx"]["videos"] == 8


def test_corpus_renders_and_screening_on_dask_equal_the_local_ones(tmp_path, capsys):
    """Real projectM renders and a real two-preset screening. (Renders of real music are not
    byte-reproducible even run after run on one process, from about one second in, so the videos
    are compared by everything but their bytes.)"""
    from bridge.training.corpus.renderer import PRESET_ROOT
    from bridge.training.dataset import sha256_file

    preset = "presets_stock/Geiss - Cepiasound.milk"
    plist = tmp_path / "presets.json"
    plist.write_text(json.dumps({"chosen": [{"preset": preset,
                                             "sha256": sha256_file(PRESET_ROOT / preset)}]}))
    shas = {}
    for name, extra in {"local": ["--jobs", "2"], "dask": ["--jobs", "2", "--dask"]}.items():
        out = tmp_path / name
        argv = ["corpus", "--out", str(out), "--tracks", "2", "--presets-per-track", "1",
                "--seconds", "2", "--size", "64", "--presets", str(plist), "--quiet", *extra]
        assert main(argv) == 0
        manifest = json.loads((out / "manifest.json").read_text())
        shas[name] = [{k: v for k, v in e.items() if k not in ("sha256", "bytes")}
                      for e in manifest["videos"]]
        assert len(shas[name]) == 2 and not manifest["failed"]
        capsys.readouterr()
        assert main(argv) == 0  # resumed: both complete
        assert "2 already complete, 0 rendered, 0 failed" in capsys.readouterr().out
    assert shas["local"] == shas["dask"]
    docs = {}
    for name, extra in {"local": ["--jobs", "2"], "dask": ["--jobs", "2", "--dask"]}.items():
        assert main(["corpus", "--screen", "2", "--seed", "3", "--out", str(tmp_path / f"s-{name}"),
                     "--quiet", *extra]) == 0
        docs[name] = json.loads((tmp_path / f"s-{name}" / "presets.json").read_text())
    assert docs["local"] == docs["dask"] and sum(docs["local"]["counts"].values()) == 2


def die_once(marker: str, value: int) -> int:
    """A task whose first run kills its worker process (SIGKILL, as the OOM killer would)."""
    import signal

    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return value * value
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize("dask", [False, True], ids=["local", "dask"])
def test_a_killed_worker_process_has_its_tasks_run_again(tmp_path, dask):
    from bridge.training.fanout import Fanout, Task, make_options

    notes = []
    tasks = [Task(die_once, (str(tmp_path / "died"), i)) for i in range(6)]
    with Fanout(make_options(2, dask=dask), report=notes.append) as fan:
        assert fan.map(tasks) == [i * i for i in range(6)]
    assert (tmp_path / "died").exists()
    if not dask:
        assert any("a worker process died; running its" in n for n in notes), notes


def test_a_local_dask_cluster_reports_a_dashboard_link_that_answers():
    import urllib.request

    from bridge.training.fanout import Fanout, make_options

    lines = []
    with Fanout(make_options(1, dask=True), report=lines.append) as fan:
        assert lines == [f"Dask dashboard: {fan.dashboard}"]
        url = fan.dashboard.split(" ")[0]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url, timeout=10) as page:
            status, body = page.status, page.read()
        assert status == 200
        if "pip install bokeh" in fan.dashboard:  # no bokeh: the scheduler's plain pages
            assert b"<title> Workers </title>" in body


def test_only_partial_renders_of_dead_local_processes_are_removed(tmp_path):
    """Each render writes NAME.mkv.HOST-PID.partial: a task of a stopped run still finishing on a
    cluster worker never shares a file with its re-run; killed local ones are cleaned up."""
    import socket

    from bridge.training.corpus.build import remove_stale_partials

    folder = tmp_path / "videos" / "pkg"
    folder.mkdir(parents=True)
    host = socket.gethostname()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    names = {"old.mkv.partial": True, f"dead.mkv.{host}-{dead}.partial": True,
             f"live.mkv.{host}-{os.getpid()}.partial": False,
             "remote.mkv.node-2.example.org-12.partial": False}
    for name in names:
        (folder / name).write_bytes(b"half a video")
    removed = {p.name for p in remove_stale_partials(tmp_path)}
    assert removed == {n for n, gone in names.items() if gone}
    assert {p.name for p in folder.iterdir()} == {n for n, gone in names.items() if not gone}


# ---- one line for a bad option --------------------------------------------------------------------
COMMANDS = {  # each long job, with arguments that are never read before the options are checked
    "dataset": ["dataset", "/nonexistent/videos", "--out", "/nonexistent/data"],
    "study": ["study", "/nonexistent/data", "--out", "/nonexistent/report"],
    "evaluate": ["evaluate", "/nonexistent/m.onnx", "/nonexistent/data"],
    "corpus": ["corpus", "--out", "/nonexistent/corpus"],
    "screen": ["corpus", "--screen", "3", "--out", "/nonexistent/corpus"],
}
BAD = [
    (["--jobs", "0"], "--jobs must be >= 1; got 0"),
    (["--scheduler", "127.0.0.1:8786"], "--scheduler '127.0.0.1:8786' has no scheme"),
    (["--scheduler", "http://127.0.0.1:8786"], "has scheme 'http' (want one of tcp://"),
    (["--scheduler", "tcp://127.0.0.1"], "needs a host and a port"),
    (["--scheduler", "tcp://127.0.0.1:99999"], "is not a scheduler address"),
]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("option, message", BAD, ids=[" ".join(o) for o, _ in BAD])
def test_a_bad_fanout_option_is_one_line_on_every_long_job(command, option, message, capsys):
    assert main(COMMANDS[command] + option) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert "tcp://127.0.0.1:8786" in err or "--jobs" in option


def test_an_unreachable_scheduler_is_one_line_at_once(videos, tmp_path, capsys):
    port = free_port("tcp")  # nobody listens there
    t0 = time.monotonic()
    assert main(["dataset", str(videos), "--fps", FPS, "--out", str(tmp_path / "data"),
                 "--scheduler", f"tcp://127.0.0.1:{port}", "--jobs", "3"]) == 1
    assert time.monotonic() - t0 < 10
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1, err
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in err[0]
    assert "`dask scheduler`" in err[0]
    assert "--jobs 3 is ignored with --scheduler" in captured.out
    assert not (tmp_path / "data" / "manifest.json").exists()


def test_an_unknown_scheduler_host_is_one_line(videos, tmp_path, capsys):
    assert main(["dataset", str(videos), "--out", str(tmp_path / "data"),
                 "--scheduler", "tcp://no-such-host.invalid:8786"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot resolve the host 'no-such-host.invalid'" in err[0], err


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, PYTHONPATH=os.getcwd()))


def test_without_dask_installed_dask_options_are_one_line(tmp_path):
    done = _python(f"""
        import sys
        sys.modules["distributed"] = None  # what `import distributed` sees when not installed
        from bridge.cli import main
        sys.exit(main(["dataset", {str(tmp_path)!r}, "--out", {str(tmp_path / 'd')!r}, "--dask"]))
    """)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == (
        "vjbridge dataset: error: --dask needs dask.distributed, which is not installed; install "
        "it with pip install 'vjbridge[train]' (or pip install 'dask[distributed]')")


def test_a_local_run_never_imports_dask(videos, tmp_path):
    done = _python(f"""
        import sys
        from bridge.cli import main
        assert main(["dataset", {str(videos)!r}, "--fps", "4", "--out", {str(tmp_path / 'd')!r},
                     "--jobs", "2", "--no-progress"]) == 0
        print(sorted(m for m in ("dask", "distributed") if m in sys.modules))
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
