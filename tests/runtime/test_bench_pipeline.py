"""bench_pipeline runs the real pipeline and reports every figure (measured, never asserted)."""

from __future__ import annotations

import json

from bridge.runtime.bench_pipeline import bench_pipeline, format_report
from tests.models.helpers import write_model
from tests.runtime.conftest import mapping_for_test_model


def test_bench_pipeline_reports_every_stage_latency_rss_and_start(tmp_path):
    model = write_model(tmp_path / "m.onnx")
    report = bench_pipeline(frames=300, realtime_seconds=1.5, models=[model],
                            mapping=mapping_for_test_model(tmp_path), passes=2)
    json.dumps(report)  # JSON-able for `vjbridge bench --json`
    stages = report["hot"]["stages"]
    assert set(stages) == {"extract", "models", "signals", "mapping", "encode+send"}
    assert all(v["n"] >= 250 and 0 < v["median_us"] <= v["p95_us"] <= v["p99_us"] for v in stages.values())
    assert report["hot"]["whole"]["median_us"] > stages["extract"]["median_us"]
    for key in ("hot", "hot_cpu"):  # the median over passes is one of the passes' medians
        per_pass = report[key]["whole_median_per_pass_us"]
        assert report[key]["passes"] == len(per_pass) == 2
        assert min(per_pass) <= report[key]["whole"]["median_us"] <= max(per_pass)
    rt = report["realtime"]
    assert rt["frames"] > 50 and 0 < rt["arrival_to_sent_ms"]["median"] <= rt["arrival_to_sent_ms"]["p99"]
    cpu = {rc["source"]: rc for rc in report["realtime_cpu"]}  # the daemon's CPU, in process
    assert set(cpu) == {"demo", "48k"}
    for rc in cpu.values():
        assert rc["packets"] > 30 and set(rc["stages_us_per_packet"]) == {
            "extract", "models", "signals", "send", "triggers"}  # triggers: the fast ones, per block
        # the stages run inside the engine's loop: their CPU is part of the loop's
        assert 0 < sum(rc["stages_us_per_packet"].values()) <= rc["engine_us_per_packet"]
        assert rc["overhead_us_per_packet"] >= 0
        assert rc["process_pct"] >= rc["engine_pct"] > 0 and rc["other_threads_pct"] > 0
    d = report["daemon"]
    assert d["exit_code"] == 0 and d["packets"] > 0 and d["start_to_first_packet_s"] > 0
    assert d["rss_mb"] > 10
    text = format_report(report)
    for words in ("whole pipeline", "block arrival -> packet sent", "first packet", "peak RSS",
                  "at real time (demo source", "per-block overhead"):
        assert words in text
