"""Public API, the live side's lean imports, and the `features` / `bench` commands."""

import json
import subprocess
import sys

import numpy as np
import pytest

from bridge import FeatureSpec, extract_file
from tests.audio.conftest import MUSIC_FILES

VJBRIDGE = [sys.executable, "-m", "bridge.cli"]


def test_import_bridge_pulls_in_neither_librosa_nor_sklearn_nor_av():
    # dask: pyfftw imports dask.array.fft when Dask is installed ([train]); bridge.audio.fft hides it
    code = ("import sys; from bridge import FeatureSpec, FeatureExtractor, extract_file; "
            "from bridge.audio.features import FeatureExtractor as F; F(FeatureSpec()).process([0.0] * 4096); "
            "print(sorted(m for m in ('librosa', 'sklearn', 'av', 'numba', 'onnx', 'matplotlib', 'dask') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_features_npy_and_csv(tmp_path):
    song = MUSIC_FILES[1]
    npy, csv = tmp_path / "f.npy", tmp_path / "f.csv"
    for out in (npy, csv):
        done = subprocess.run(VJBRIDGE + ["features", str(song), "--fps", "8", "--out", str(out)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    expected = extract_file(song, FeatureSpec(fps=8))
    assert np.array_equal(np.load(npy), expected)
    table = np.genfromtxt(csv, delimiter=",", names=True)
    assert table.dtype.names[:2] == ("time", "mel_00") and table.dtype.names[-1] == "onset"
    assert np.allclose(table["rms"], expected[:, 64], rtol=1e-5)
    assert np.allclose(table["time"], FeatureSpec(fps=8).frame_end_times(len(expected)), atol=1e-6)


@pytest.mark.parametrize("args, message", [
    (["features", "missing.ogg", "--out", "x.npy"], "missing.ogg: no such file"),
    (["features", str(MUSIC_FILES[0]), "--out", "x.txt"], "--out must end in .npy or .csv"),
    (["features", str(MUSIC_FILES[0]), "--fps", "0", "--out", "x.npy"], "'fps' field of FeatureSpec"),
    (["bench", "--e2e", "--daemon-cpu"], "--e2e and --daemon-cpu are two benchmarks"),
    (["bench", "--extractor-only", "--", "--no-models"], "are for --e2e or --daemon-cpu only"),
])
def test_bad_input_is_one_line_and_exit_1(tmp_path, args, message):
    done = subprocess.run(VJBRIDGE + args, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr


def test_bench_reports_numbers():
    done = subprocess.run(VJBRIDGE + ["bench", "--frames", "300", "--repeat", "2", "--json", "--extractor-only"],
                          capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    assert report["live"]["median_us"] > 0 and report["live"]["p99_us"] >= report["live"]["median_us"]
    assert {o["fps"] for o in report["offline"]} == {8.0, 60.0}
    assert all(o["librosa_ms"] > 0 and o["speedup_threads1"] > 0 for o in report["offline"])
    assert report["import"]["librosa"] is False and report["import"]["sklearn"] is False


def test_bench_with_a_file_times_the_whole_file_against_librosa_load():
    """At 8 and 60 fps, on both clocks (wall and process CPU), medians and p95, and the ratios."""
    from tests.conftest import MUSIC

    path = str(MUSIC / "wesnoth-battle.ogg")
    done = subprocess.run(VJBRIDGE + ["bench", "--file", path, "--frames", "300", "--repeat", "2",
                                      "--json", "--extractor-only"],
                          capture_output=True, text=True, check=True)
    files = json.loads(done.stdout)["file"]
    assert [f["fps"] for f in files] == [8.0, 60.0]
    for f in files:
        assert f["path"] == path and f["runs"] == 3
        for who in ("ours", "librosa"):
            assert 0 < f[f"{who}_s"] <= f[f"{who}_p95_s"]
            assert 0 < f[f"{who}_cpu_s"] <= f[f"{who}_cpu_p95_s"]
        assert f["speedup"] == f["librosa_s"] / f["ours_s"]
        assert f["speedup_cpu"] == f["librosa_cpu_s"] / f["ours_cpu_s"]
    text = subprocess.run(VJBRIDGE + ["bench", "--file", path, "--frames", "300", "--repeat", "2",
                                      "--extractor-only"], capture_output=True, text=True,
                          check=True).stdout
    lines = [line for line in text.splitlines() if line.startswith("whole file")]
    assert len(lines) == 2 and all(" CPU (p95 " in line and "ours / librosa" in line
                                   for line in lines)
