"""Whole-daemon CPU: the real ``vjbridge run`` process, per thread, from /proc, medians and p95.

    python -m tests.bench.daemon_cpu [--source demo|pulse|both] [--seconds 5] [--windows 6]
                                     [--runs 1] [--tree PATH ...] [--with-bench] [--json OUT]
                                     [-- DAEMON ARGS]

Why this and not only ``vjbridge bench``'s pipeline passes: the daemon is more than its stages (a
source thread, PortAudio's and PulseAudio's client threads, queue waits, the status line, the
``_info`` announcements, the snapshot for the status page), and on this project's machines code
that ran ~10 ms ago costs 3-10x what it costs back to back (tests/bench/latency/PROFILE.md). So
this starts the daemon as a user does, ``vjbridge run --demo`` or ``vjbridge run --device pulse``
recording a private 48 kHz PulseAudio null sink that plays the test music (tests/data/music), with
the default mapping and the shipped models, its OSC going to a local UDP socket that counts and
drops the packets; waits until it has sent for ``--warmup`` s, then reads utime+stime of the process
and of each thread (/proc/PID/stat, /proc/PID/task/TID/stat) over ``--windows`` windows of
``--seconds`` each. Reported: per window the process's % of one core, and per thread; the median
and p95 over the windows (of every run); the engine thread's CPU per packet.

Threads are named by ``py-spy dump`` when it is installed (Python 3.11 does not give ``threading``
names to the kernel), else by their kernel name; native threads (PortAudio's callback thread,
PulseAudio's ``threaded-ml``) keep their kernel names in brackets.

``--tree PATH`` (repeatable): run the daemon of another checkout too, alternating run by run, so a
before/after comparison is measured in the same minutes under the same load. The load average is
recorded with every window. ``--with-bench``: after each demo daemon, ``vjbridge bench``'s
in-process real-time figure (:func:`bridge.runtime.bench_pipeline._realtime_cpu`, the demo
source) over as long, so the two are compared in the same minutes. Measured, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tests.bench.latency.daemon import ROOT, wait_for
from tests.bench.latency.e2e import py_spy
from tests.bench.latency.procstat import process_cpu, thread_cpu, threads_by_comm
from tests.bench.latency.profile_daemon import DiscardSink, music_wav, thread_names
from tests.bench.latency.pulse import BenchError, PrivatePulse, die_with_parent, stop_child
from tests.bench.latency.report import write_json


def _load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def _names(pid: int, spy: str | None) -> dict[int, str]:
    if spy is not None:
        try:
            return thread_names(pid, spy)
        except (OSError, subprocess.SubprocessError):
            pass
    return {tid: f"[{comm}]" for tid, comm in threads_by_comm(pid).items()}


def measure_daemon(tree: Path, source: str, *, seconds: float, windows: int, warmup: float,
                   extra: list[str]) -> dict:
    """One daemon of ``tree``: ``windows`` CPU windows of ``seconds`` each (see the docstring)."""
    with contextlib.ExitStack() as stack:
        sink = DiscardSink()
        stack.callback(sink.close)
        env = dict(os.environ)
        args = ["--demo"]
        if source == "pulse":
            pulse = stack.enter_context(PrivatePulse())
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            player = pulse.play(music_wav(tmp / "music.wav", warmup + windows * seconds + 30))
            stack.callback(stop_child, player)
            env, args = dict(pulse.env), ["--device", "pulse"]
        env["PYTHONPATH"] = str(tree)  # that checkout's bridge, not whatever is installed
        command = [sys.executable, "-m", "bridge.cli", "run", *args, "--osc",
                   f"127.0.0.1:{sink.port}", *extra]
        log = stack.enter_context(tempfile.NamedTemporaryFile(prefix="vjb-daemon-cpu-"))
        daemon = subprocess.Popen(command, cwd=tree, env=env, stdout=log,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  start_new_session=True, preexec_fn=die_with_parent)
        stack.callback(stop_child, daemon, __import__("signal").SIGINT, 15)

        def alive():
            if daemon.poll() is not None:
                raise BenchError(f"vjbridge run exited with {daemon.returncode}: "
                                 f"{Path(log.name).read_text(errors='replace')[-500:].strip()}")

        wait_for(lambda: sink.count > 0, 60, "the daemon's first packet", alive=alive)
        time.sleep(warmup)
        names = _names(daemon.pid, py_spy())
        out = []
        for _ in range(windows):
            tids = list(threads_by_comm(daemon.pid))
            p0, t0 = process_cpu(daemon.pid), {t: thread_cpu(daemon.pid, t) for t in tids}
            n0, w0, load0 = sink.count, time.perf_counter(), _load()
            time.sleep(seconds)
            p1, t1 = process_cpu(daemon.pid), {t: thread_cpu(daemon.pid, t) for t in tids}
            wall, packets = time.perf_counter() - w0, sink.count - n0
            threads: dict[str, float] = {}
            for t in tids:
                if t0[t] is not None and t1[t] is not None:
                    name = names.get(t, f"[thread {t}]")
                    threads[name] = threads.get(name, 0.0) + 100 * (t1[t] - t0[t]) / wall
            engine = threads.get("engine")
            out.append({"process_pct": 100 * (p1 - p0) / wall, "threads_pct": threads,
                        "packets_per_s": packets / wall, "load": (load0 + _load()) / 2,
                        "engine_us_per_packet": None if engine is None or not packets else
                        engine / 100 * wall / packets * 1e6})
        alive()
    return {"tree": str(tree), "source": source, "command": ["vjbridge", *command[3:]],
            "windows": out}


_BENCH = """
import json, socket, sys
from bridge.runtime.bench_pipeline import _realtime_cpu
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sink.bind(("127.0.0.1", 0))
print(json.dumps(_realtime_cpu(models=None, mapping="default", port=sink.getsockname()[1],
                               seconds=float(sys.argv[1]), which="demo")))
"""


def bench_realtime(tree: Path, seconds: float) -> dict:
    """``vjbridge bench``'s in-process real-time figure for the demo source, from ``tree``, in a
    fresh process (as the bench runs it), to set beside the real daemon's."""
    done = subprocess.run([sys.executable, "-c", _BENCH, str(seconds)], cwd=tree,
                          env=dict(os.environ, PYTHONPATH=str(tree)), capture_output=True,
                          text=True, timeout=seconds + 120)
    if done.returncode != 0:
        raise BenchError(f"the in-process bench failed: {done.stderr.strip()[-400:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _stat(values) -> dict:
    a = np.asarray([v for v in values if v is not None], dtype=float)
    if a.size == 0:
        return {"median": None, "p95": None, "n": 0}
    return {"median": float(np.median(a)), "p95": float(np.percentile(a, 95)), "n": int(a.size)}


def summarise(runs: list[dict]) -> dict:
    """Medians and p95 over every window of ``runs`` (one tree, one source)."""
    windows = [w for r in runs for w in r["windows"]]
    names = sorted({n for w in windows for n in w["threads_pct"]})
    return {"process_pct": _stat(w["process_pct"] for w in windows),
            "engine_us_per_packet": _stat(w["engine_us_per_packet"] for w in windows),
            "packets_per_s": _stat(w["packets_per_s"] for w in windows),
            "load": _stat(w["load"] for w in windows),
            "threads_pct": {n: _stat(w["threads_pct"].get(n, 0.0) for w in windows)
                            for n in names}}


def format_summary(tree: str, source: str, s: dict, seconds: float) -> str:
    p, e = s["process_pct"], s["engine_us_per_packet"]
    lines = [f"{source} ({tree}): whole daemon {p['median']:.2f} % of one core median, p95 "
             f"{p['p95']:.2f} % ({p['n']} windows of {seconds:g} s; load average "
             f"{s['load']['median']:.1f}); {s['packets_per_s']['median']:.1f} packets/s"
             + (f"; engine {e['median']:.0f} µs CPU per packet (p95 {e['p95']:.0f})"
                if e["median"] is not None else "")]
    for name, st in sorted(s["threads_pct"].items(), key=lambda kv: -(kv[1]["median"] or 0)):
        if (st["p95"] or 0) >= 0.05:
            lines.append(f"    {name:<28} median {st['median']:5.2f} %  p95 {st['p95']:5.2f} %")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.daemon_cpu",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", choices=["demo", "pulse", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=5.0, help="window length (default 5)")
    parser.add_argument("--windows", type=int, default=6, help="windows per run (default 6)")
    parser.add_argument("--runs", type=int, default=1, help="daemons per tree and source")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="seconds after the first packet before measuring (default 3)")
    parser.add_argument("--tree", action="append", default=[],
                        help="also measure this checkout's daemon, alternating (repeatable)")
    parser.add_argument("--with-bench", action="store_true",
                        help="after each demo daemon, run `vjbridge bench`'s in-process real-time "
                             "pass (demo source, --seconds x --windows) and print both")
    parser.add_argument("--json", metavar="OUT", help="write the raw windows and summary here")
    parser.add_argument("daemon_args", nargs="*", help="extra `vjbridge run` options after --")
    args = parser.parse_args(argv)
    trees = [ROOT] + [Path(t).resolve() for t in args.tree]
    sources = ["demo", "pulse"] if args.source == "both" else [args.source]
    results: dict = {}
    try:
        for source in sources:
            for _ in range(args.runs):
                for tree in trees:
                    r = measure_daemon(tree, source, seconds=args.seconds, windows=args.windows,
                                       warmup=args.warmup, extra=args.daemon_args)
                    if args.with_bench and source == "demo":
                        r["bench"] = bench_realtime(tree, args.seconds * args.windows)
                    results.setdefault((str(tree), source), []).append(r)
    except BenchError as exc:
        print(f"daemon_cpu: error: {exc}", file=sys.stderr)
        return 1
    report = []
    for (tree, source), runs in results.items():
        s = summarise(runs)
        print(format_summary(tree, source, s, args.seconds), flush=True)
        benches = [r["bench"] for r in runs if "bench" in r]
        if benches:
            b_engine = float(np.median([b["engine_us_per_packet"] for b in benches]))
            b_process = float(np.median([b["process_pct"] for b in benches]))
            d_engine = s["engine_us_per_packet"]["median"]
            s["bench"] = {"engine_us_per_packet": b_engine, "process_pct": b_process}
            print(f"    vjbridge bench at real time (in process, same minutes): engine "
                  f"{b_engine:.0f} µs per packet ({100 * (b_engine / d_engine - 1):+.0f} % vs the "
                  f"daemon's {d_engine:.0f}), {b_process:.1f} % of one core (daemon "
                  f"{s['process_pct']['median']:.1f} %)", flush=True)
        report.append({"tree": tree, "source": source, "command": runs[0]["command"],
                       "summary": s, "runs": runs})
    if args.json:
        write_json(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
