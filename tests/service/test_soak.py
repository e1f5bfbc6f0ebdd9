"""The soak in the suite: ~15-30 min of audio at full speed (tests/bench/soak.py, in its own
process, which is then the daemon) through oscdump over UDP and TCP and jack_midi_dump; RSS,
threads, fds and queue lengths must not grow after warm-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.soak import report, slope_per_hour

SOAK = Path(__file__).resolve().parents[1] / "bench" / "soak.py"


@pytest.mark.slow
@pytest.mark.peers
def test_compressed_time_soak_through_real_sinks_does_not_grow(tmp_path):
    out = tmp_path / "soak.json"
    r = subprocess.run([sys.executable, str(SOAK), "--audio-hours", "0.5", "--wall-limit", "45",
                        "--sample-every", "1", "--warmup", "0.3", "--json", str(out)],
                       capture_output=True, text=True, timeout=180,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    print(r.stdout)
    assert len(res["samples"]) >= 10
    assert res["audio_hours"] > 0.05  # minutes of audio, not a stall
    # real receivers got data all along: OSC over UDP and TCP, MIDI through JACK
    assert all(n > 1000 for n in res["received_lines"].values()), res["received_lines"]
    assert set(res["received_lines"]) == {"osc_udp", "osc_tcp", "midi"}
    # no growth after warm-up (tolerance: allocator noise of a few MB)
    lo, hi = res["rss_after_warmup_mb"]
    assert hi - lo < 8.0, res["rss_after_warmup_mb"]
    # threads and fds: constant after warm-up (one of slack for a transient reconnect socket or a
    # short-lived helper thread caught by a sample), and not higher at the end
    after = [s for s in res["samples"] if s["audio_s"] >= 0.3 * res["samples"][-1]["audio_s"]]
    for key in ("threads", "fds"):
        values = [s[key] for s in after]
        assert max(values) - min(values) <= 1 and values[-1] <= values[0] + 1, (key, values)
    assert res["max_source_queue"] <= 256 and res["max_tcp_queue"] <= 4
    assert res["max_events"] <= 200


def test_the_slope_is_per_hour_of_audio_and_sees_a_leak():
    flat = [{"wall_s": i, "audio_s": 60.0 * i, "rss_mb": 100.0, "threads": 8, "fds": 18,
             "source_queue": 0, "tcp_queue": 0, "events": 0, "packets": i, "drops": 0}
            for i in range(1, 61)]
    assert report(flat, 0.1, {})["rss_slope_mb_per_hour"] == 0
    leaking = [s | {"rss_mb": 100.0 + s["audio_s"] / 3600.0 * 5} for s in flat]  # 5 MB per hour
    assert report(leaking, 0.1, {})["rss_slope_mb_per_hour"] == pytest.approx(5.0)
    assert slope_per_hour([(0, 1.0)]) != slope_per_hour([(0, 1.0)])  # nan for one point
