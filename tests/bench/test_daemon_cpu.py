"""The whole-daemon CPU benchmark (tests/bench/daemon_cpu.py): its statistics on known windows, and
one short real run of `vjbridge run --demo` that must name the engine thread and count packets.
No thresholds: CPU is measured by the benchmark and published in README.md, never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench import daemon_cpu

ROOT = Path(__file__).resolve().parents[2]


def test_medians_and_p95_cover_every_window_of_every_run():
    runs = [{"windows": [{"process_pct": p, "threads_pct": {"engine": p - 1, "demo-source": 1.0},
                          "packets_per_s": 60.0, "load": 1.0, "engine_us_per_packet": 100 * p}
                         for p in (2.0, 4.0)]},
            {"windows": [{"process_pct": 6.0, "threads_pct": {"engine": 5.0}, "packets_per_s": 60.0,
                          "load": 2.0, "engine_us_per_packet": None}]}]
    s = daemon_cpu.summarise(runs)
    assert s["process_pct"] == {"median": 4.0, "p95": pytest.approx(5.8), "n": 3}
    assert s["engine_us_per_packet"]["n"] == 2  # a window without packets has no per-packet figure
    # a thread missing from a window (it had not started) counts 0 there
    assert s["threads_pct"]["demo-source"]["median"] == 1.0
    assert s["threads_pct"]["demo-source"]["n"] == 3
    text = daemon_cpu.format_summary("tree", "demo", s, 5.0)
    assert "whole daemon 4.00 % of one core median" in text and "engine" in text


@pytest.mark.slow
def test_a_real_demo_daemon_is_measured_per_thread(tmp_path):
    out = tmp_path / "cpu.json"
    done = subprocess.run([sys.executable, "-m", "tests.bench.daemon_cpu", "--source", "demo",
                           "--seconds", "1", "--windows", "2", "--warmup", "0.5", "--json",
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    (report,) = json.loads(out.read_text())
    assert report["command"][:3] == ["vjbridge", "run", "--demo"]
    windows = report["runs"][0]["windows"]
    assert len(windows) == 2 and all(w["packets_per_s"] > 0 for w in windows)
    assert all(w["process_pct"] > 0 for w in windows)
    assert "engine" in report["summary"]["threads_pct"]  # named through py-spy
    assert "whole daemon" in done.stdout and "engine" in done.stdout
