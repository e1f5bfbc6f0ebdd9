"""The benchmark's text output: one block per run, then every run pooled (the JSON holds more)."""

from __future__ import annotations


def _ms(v) -> str:
    return "   -  " if v is None else f"{v:6.1f}"


def format_table(detectors: dict) -> str:
    lines = [f"  {'detector':<16} {'median':>6} {'p95':>6} {'max':>6}  detected  false   (ms)"]
    for name, s in detectors.items():
        if not isinstance(s, dict):
            continue
        lines.append(f"  {name:<16} {_ms(s['median_ms'])} {_ms(s['p95_ms'])} {_ms(s['max_ms'])}"
                     f"  {s['detected']:>3}/{s['clicks']:<4} {s['false']:>5}")
    return "\n".join(lines)


def format_run(r: dict, k: int, runs: int) -> str:
    p, c = r["packets"], r["cpu"]
    lb, la = r["load_before"], r["load_after"]
    engine = ("engine thread ?" if c["engine_pct"] is None
              else f"engine thread {c['engine_pct']:.1f} %")
    packets = (f"  tick packets at the receiver (those with rms): {p['packets']} in the run, "
               f"gaps median "
               f"{p['median_ms']:.1f} ms, p95 {p['p95_ms']:.1f}, max {p['max_ms']:.1f}; "
               f"{100 * p['under_2ms']:.0f} % under 2 ms; |gap - {p['period_ms']:.2f} ms| p95 "
               f"{p['jitter_p95_ms']:.1f} ms; {p.get('early', 0)} event packets sent ahead of "
               "their tick" if "median_ms" in p else "  packets: none")
    return "\n".join([
        f"run {k}/{runs}: {r['clicks_at_reference']}/{r['clicks']} clicks at the reference; load "
        f"{lb[0]:.2f} -> {la[0]:.2f} (1-min avg); reference blocks arrive in bursts "
        f"{_ms(r['reference']['burst_gap_median_ms']).strip()} ms apart (median; p95 "
        f"{_ms(r['reference']['burst_gap_p95_ms']).strip()})",
        format_table(r["detectors"]), packets,
        f"  daemon CPU over {c['seconds']:.1f} s: {c['process_pct']:.1f} % of one core, "
        f"{engine} (thread found by {c['engine_found_by']})",
        *(f"  daemon's own: {line.removeprefix('vjbridge: ')}" for line in r["daemon_summary"]
          if "block arrival" in line)])


def format_report(report: dict) -> str:
    first = report["runs"][0]
    ratio = report["pooled"]["onset_median_vs_aubio"]
    head = (f"sound -> packet, {report['date_utc']} UTC, {report['cpus']} CPUs; daemon: "
            f"vjbridge {' '.join(first['daemon_command'][2:])}"
            f"\nreference: 48 kHz, 64-frame blocks, stream "
            f"latency {first['reference']['stream_latency_ms']:.1f} ms, "
            f"{first['reference']['priority']}; peer: {first['aubio']}")
    tail = (f"all {len(report['runs'])} run(s) pooled:\n{format_table(report['pooled'])}\n"
            f"  vjbridge onset median / aubio onset median: "
            + ("-" if ratio is None else f"{ratio:.2f}x"))
    return head + "\n" + tail


def write_json(report, dest: str) -> None:
    """The report as JSON: on stdout for ``-``, else into the file ``dest``."""
    import json
    from pathlib import Path

    text = json.dumps(report, indent=2)
    if dest == "-":
        print(text)
    else:
        Path(dest).write_text(text + "\n")
