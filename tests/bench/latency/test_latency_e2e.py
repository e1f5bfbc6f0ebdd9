"""The end-to-end latency benchmark's machinery: pairing and statistics on known stamps (fast), and
one real run on 8 clicks (peers: PulseAudio, paplay, aubio-ledfx) that must produce a well-formed
report with detections and leave no process behind. No timing thresholds: latency is measured by
the benchmark and published in README.md, never asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.bench.latency import analysis, clicks
from tests.bench.latency.pulse import BenchError, PrivatePulse

ROOT = Path(__file__).resolve().parents[3]


def test_rising_edges_count_a_level_that_stays_high_once():
    t = np.arange(8) * 0.01
    v = [0.0, 0.6, 0.9, 0.4, 0.0, 0.5, 0.2, 1.0]
    assert analysis.rising_edges(t, v, 0.5).tolist() == pytest.approx([0.01, 0.05, 0.07])


def test_pairing_takes_the_first_detection_and_counts_the_rest_as_false():
    arrivals = [1.0, 1.5, 2.0]
    detections = [0.2,  # before the clicks play: ignored
                  0.99,  # 10 ms ahead of the reference: a (negative) latency, not a miss
                  1.52, 1.56,  # the second is a false detection
                  1.93]  # between two windows, while clicks play: false
    got = analysis.pair(arrivals, detections)
    assert got["latencies"][:2] == pytest.approx([-0.01, 0.02])
    assert np.isnan(got["latencies"][2])
    assert got["false"] == 2
    stats = analysis.latency_stats(got["latencies"], got["false"])
    assert stats["detected"] == 2 and stats["clicks"] == 3
    assert stats["median_ms"] == pytest.approx(5.0)


def test_gap_stats_on_pairs_of_packets():
    stamps = np.cumsum([0.0] + [0.001, 0.032] * 20)  # bursts of two, as soxr HQ releases them
    g = analysis.gap_stats(stamps, 1 / 60)
    assert g["under_2ms"] == pytest.approx(0.5)
    assert g["jitter_p95_ms"] == pytest.approx(16.667 - 1, abs=0.01)  # the 1 ms gaps


def test_find_clicks_on_the_stimulus_itself():
    y = clicks.click_track(5)
    expected = int(clicks.LEAD_IN * clicks.RATE) + np.arange(5) * 24000
    assert clicks.find_clicks(y).tolist() == expected.tolist()


def test_a_missing_server_names_its_package(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(BenchError, match="apt-get install pulseaudio"):
        PrivatePulse()


def test_bench_cli_refuses_too_few_clicks_in_one_line():
    out = subprocess.run([sys.executable, "-m", "bridge.cli", "bench", "--e2e", "--clicks", "1"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        "vjbridge bench --e2e: error: --clicks must be at least 2"]


def _children() -> set[int]:
    me, out = os.getpid(), set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == me:
                out.add(int(entry.name))
    return out


@pytest.mark.peers
@pytest.mark.slow
def test_one_run_on_eight_clicks_reports_every_detector_and_cleans_up():
    pytest.importorskip("aubio", reason="pip install aubio-ledfx")
    from tests.bench.latency.e2e import format_report, run_benchmark

    before = _children()
    report = run_benchmark(8, 1, progress=lambda text: None)
    assert _children() <= before, "the benchmark left a process running"
    json.dumps(report)  # JSON-ready as --json writes it
    run = report["runs"][0]
    assert run["clicks_at_reference"] == 8
    for name in ("vjbridge onset", "vjbridge kick", "vjbridge snare", "aubio onset"):
        s = run["detectors"][name]
        assert set(s) >= {"median_ms", "p95_ms", "max_ms", "detected", "clicks", "false"}
        assert len(run["per_click_ms"][name]) == 8
    for name in ("vjbridge onset", "aubio onset"):
        assert run["detectors"][name]["detected"] >= 4, run["detectors"][name]
        assert isinstance(report["pooled"][name]["median_ms"], float)
    assert run["packets"]["packets"] > 100  # ~60/s for the run's ~6 s
    assert run["cpu"]["process_pct"] > 0
    assert run["daemon_exit"] == 0 and run["daemon_summary"], run["daemon_summary"]
    assert "vjbridge onset" in format_report(report)
