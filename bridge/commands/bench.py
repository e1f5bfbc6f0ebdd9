"""``vjbridge bench``: measured speed (medians, p95 and p99, never asserted).

Prints the feature extractor's per-frame cost at 60 Hz (one hop per call, as a device delivers it),
the real-time headroom (frame period / median cost), offline extraction speed against the librosa
reference when librosa is installed, what ``import bridge`` costs and pulls in, and then the whole
live pipeline (:mod:`bridge.runtime.bench_pipeline`: per stage, arrival -> sent latency, RSS,
start to first packet) unless ``--extractor-only``.

``--e2e``: sound -> OSC packet of the real daemon on a PulseAudio null sink, beside aubio's onset
detector on the same clicks (``tests/bench/latency``, run as a subprocess: it needs a checkout).

``--daemon-cpu``: the real ``vjbridge run`` process's CPU, per thread, from /proc over repeated
windows (``tests/bench/daemon_cpu.py``: ``--demo`` and a PulseAudio null sink playing music; a
subprocess, it needs a checkout). The pipeline benchmark's "at real time" lines are the same
figure measured in process, to compare with it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

HELP = "benchmark the extractor: per-frame cost at 60 Hz, offline speed vs librosa, import cost"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--file", help="audio file to use (default: 60 s of the built-in demo groove)")
    parser.add_argument("--frames", type=int, default=3000, help="live frames to time (default 3000)")
    parser.add_argument("--repeat", type=int, default=7, help="offline repetitions (default 7)")
    parser.add_argument("--json", nargs="?", const="-", metavar="OUT",
                        help="print one JSON object instead (to OUT when given)")
    parser.add_argument("--passes", type=int, default=3,
                        help="hot live-pipeline passes per clock (wall, CPU); the median over "
                             "passes is reported (default 3)")
    parser.add_argument("--mapping", default="default", metavar="NAME|PATH",
                        help="the mapping the live-pipeline benchmark routes through (a shipped "
                             "mapping's name or a file; its OSC targets go to a local socket, "
                             "other kinds where the file says: keep them on loopback); default "
                             "'default'")
    parser.add_argument("--extractor-only", action="store_true",
                        help="skip the live-pipeline benchmark (about 30 s)")
    e2e = parser.add_argument_group("end to end (--e2e)")
    e2e.add_argument("--e2e", action="store_true",
                     help="sound -> packet latency of `vjbridge run --device pulse` beside aubio, "
                          "on a private PulseAudio null sink (see tests/bench/latency/README.md)")
    e2e.add_argument("--clicks", type=int, default=60, help="clicks per run (default 60)")
    e2e.add_argument("--runs", type=int, default=1, help="runs, each with a fresh daemon")
    e2e.add_argument("daemon_args", nargs="*", metavar="-- DAEMON_ARGS",
                     help="with --e2e or --daemon-cpu: extra `vjbridge run` options, e.g. -- "
                          "--input-latency low")
    cpu = parser.add_argument_group("whole-daemon CPU (--daemon-cpu)")
    cpu.add_argument("--daemon-cpu", action="store_true",
                     help="CPU of the real `vjbridge run` process per thread (/proc), medians and "
                          "p95 over windows: --demo and a PulseAudio null sink playing music")
    cpu.add_argument("--cpu-source", choices=["demo", "pulse", "both"], default="both",
                     help="with --daemon-cpu: which daemon (default both)")
    cpu.add_argument("--windows", type=int, default=6,
                     help="with --daemon-cpu: windows of --seconds per daemon (default 6)")
    cpu.add_argument("--seconds", type=float, default=5.0,
                     help="with --daemon-cpu: seconds per window (default 5)")


def _signal(args, sample_rate: int):
    if args.file:
        from bridge import load_audio

        return load_audio(args.file, sample_rate=sample_rate)
    from bridge.audio.demo import DemoMusic

    return DemoMusic(sample_rate).read(60 * sample_rate)


def _median_p99(samples, percentile: float = 99.0) -> tuple[float, float]:
    """``(median, the given percentile)`` of ``samples``."""
    import numpy as np

    a = np.asarray(samples)
    return float(np.median(a)), float(np.percentile(a, percentile))


def bench_live(y, *, fps: float = 60.0, frames: int = 3000) -> dict:
    """Cost of ``process()`` fed one hop at a time: what the live engine pays per frame."""
    from bridge import FeatureExtractor, FeatureSpec

    spec = FeatureSpec(fps=fps)
    hop = spec.hop_length
    extractor = FeatureExtractor(spec)
    extractor.process(y[:spec.n_fft - hop])  # prime: from now on each hop completes one frame
    costs, pos = [], spec.n_fft - hop
    while len(costs) < frames:
        if pos + hop > y.size:
            pos = spec.n_fft - hop
            extractor.reset()
            extractor.process(y[:pos])
        block = y[pos:pos + hop]
        pos += hop
        t0 = time.perf_counter()
        extractor.process(block)
        costs.append(time.perf_counter() - t0)
    median, p99 = _median_p99(costs[50:])
    p95 = _median_p99(costs[50:], 95)[1]
    period = hop / spec.sample_rate
    return {"fps": spec.frame_rate, "median_us": median * 1e6, "p95_us": p95 * 1e6,
            "p99_us": p99 * 1e6,
            "headroom": period / median}


def bench_offline(y, *, fps: float, repeat: int) -> dict:
    """Whole-signal extraction through the streaming object vs the librosa reference."""
    from bridge import FeatureExtractor, FeatureSpec

    spec = FeatureSpec(fps=fps)
    out = {"fps": fps, "seconds": y.size / spec.sample_rate}
    for threads in (1, 2):
        extractor = FeatureExtractor(spec, threads=threads)
        extractor.process(y)
        times = []
        for _ in range(repeat):
            extractor.reset()
            t0 = time.perf_counter()
            extractor.process(y)
            times.append(time.perf_counter() - t0)
        out[f"ours_ms_threads{threads}"] = _median_p99(times)[0] * 1e3
    try:
        from bridge.audio.reference import librosa_features

        librosa_features(y, spec)  # warm librosa's lazy imports and caches
    except ImportError:
        out["librosa_ms"] = None
        return out
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        librosa_features(y, spec)
        times.append(time.perf_counter() - t0)
    out["librosa_ms"] = _median_p99(times)[0] * 1e3
    for threads in (1, 2):
        out[f"speedup_threads{threads}"] = out["librosa_ms"] / out[f"ours_ms_threads{threads}"]
    return out


def bench_file(path, *, fps: float = 8.0, repeat: int = 5) -> dict:
    """A whole file: ``extract_file`` (decode, resample, features) against ``librosa.load(sr=22050)``
    + the reference features, alternated run by run so both see the same machine load. Each run is
    timed on two clocks: wall and the process's CPU time (every thread: the decoding helper, FFTW's
    and BLAS's threads), the figure that stays honest on a shared machine. Medians and p95."""
    from bridge import FeatureSpec, extract_file

    spec = FeatureSpec(fps=fps)
    out = {"path": str(path), "fps": fps, "runs": repeat}
    try:
        import librosa

        from bridge.audio.reference import librosa_features
    except ImportError:
        librosa = None
    cases = {"ours": lambda: extract_file(path, spec)}
    if librosa is not None:
        cases["librosa"] = lambda: librosa_features(librosa.load(path, sr=spec.sample_rate)[0], spec)
    wall = {name: [] for name in cases}
    cpu = {name: [] for name in cases}
    for name, case in cases.items():
        case()  # warm: imports, FFT plans, the resampler's filter
    for _ in range(repeat):
        for name, case in cases.items():
            c0, t0 = time.process_time(), time.perf_counter()
            case()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    for name in cases:
        out[f"{name}_s"], out[f"{name}_p95_s"] = _median_p99(wall[name], 95)
        out[f"{name}_cpu_s"], out[f"{name}_cpu_p95_s"] = _median_p99(cpu[name], 95)
    if "librosa_s" in out:
        out["speedup"] = out["librosa_s"] / out["ours_s"]
        out["speedup_cpu"] = out["librosa_cpu_s"] / out["ours_cpu_s"]
    else:
        out["speedup"] = out["speedup_cpu"] = None
    return out


def bench_import() -> dict:
    code = ("import sys, time; t=time.perf_counter(); import bridge; "
            "dt=time.perf_counter()-t; import json; print(json.dumps({'seconds': dt, "
            "'librosa': 'librosa' in sys.modules, 'sklearn': 'sklearn' in sys.modules, "
            "'av': 'av' in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def run_e2e(args: argparse.Namespace) -> int:
    """Run ``tests/bench/latency/e2e.py`` of this checkout in its own process (it sets up its own
    PulseAudio server and PortAudio must see it at initialisation); its exit code is ours.
    ``--daemon-cpu``: ``tests/bench/daemon_cpu.py`` the same way."""
    import os
    from pathlib import Path

    from bridge.errors import ConfigError

    root = Path(__file__).resolve().parents[2]
    script, flag = ("daemon_cpu.py", "--daemon-cpu") if args.daemon_cpu else (
        "latency/e2e.py", "--e2e")
    if not (root / "tests" / "bench" / script).is_file():
        raise ConfigError(f"{flag} needs a source checkout of vjbridge (tests/bench/{script} is "
                          f"not under {root})")
    if args.daemon_cpu:
        command = [sys.executable, "-m", "tests.bench.daemon_cpu", "--source", args.cpu_source,
                   "--windows", str(args.windows), "--seconds", str(args.seconds), "--runs",
                   str(args.runs)]
    else:
        command = [sys.executable, "-m", "tests.bench.latency.e2e", "--clicks", str(args.clicks),
                   "--runs", str(args.runs)]
    if args.json:
        command += ["--json", args.json if args.json == "-" else os.path.abspath(args.json)]
    command += ["--", *args.daemon_args]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p))
    child = subprocess.Popen(command, cwd=root, env=env)
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:  # the child got the same Ctrl-C: let it clean up, then report
            continue


def run(args: argparse.Namespace) -> int:
    if args.e2e and args.daemon_cpu:
        from bridge.errors import ConfigError

        raise ConfigError("--e2e and --daemon-cpu are two benchmarks: give one of them")
    if args.e2e or args.daemon_cpu:
        return run_e2e(args)
    if args.daemon_args:
        from bridge.errors import ConfigError

        raise ConfigError(f"daemon options {' '.join(args.daemon_args)!r} are for --e2e or "
                          "--daemon-cpu only")
    from bridge import FeatureSpec
    from bridge.audio.fft import fft_backend

    y = _signal(args, FeatureSpec().sample_rate)
    report = {"fft_backend": fft_backend(), "live": bench_live(y, frames=args.frames),
              "offline": [bench_offline(y, fps=f, repeat=args.repeat) for f in (8.0, 60.0)],
              "import": bench_import()}
    if args.file:
        report["file"] = [bench_file(args.file, fps=f, repeat=max(3, min(args.repeat, 7)))
                          for f in (8.0, 60.0)]
    if not args.extractor_only:
        from bridge.runtime.bench_pipeline import bench_pipeline

        report["pipeline"] = bench_pipeline(frames=args.frames, passes=args.passes,
                                            mapping=args.mapping)
    if args.json:
        text = json.dumps(report, indent=2)
        if args.json == "-":
            print(text)
        else:
            with open(args.json, "w") as f:
                f.write(text + "\n")
        return 0
    live = report["live"]
    print(f"FFT backend: {report['fft_backend']}")
    print(f"live extractor @ {live['fps']:.2f} frames/s, one hop per call: median "
          f"{live['median_us']:.1f} µs, p95 {live['p95_us']:.1f}, p99 {live['p99_us']:.1f} µs per "
          f"frame; real-time headroom {live['headroom']:.0f}x")
    for off in report["offline"]:
        line = (f"offline {off['seconds']:.0f} s @ {off['fps']:g} fps: ours "
                f"{off['ours_ms_threads1']:.1f} ms (1 FFT thread), {off['ours_ms_threads2']:.1f} ms "
                f"(2 FFT threads)")
        if off.get("librosa_ms"):
            line += (f"; librosa reference {off['librosa_ms']:.1f} ms; speed-up "
                     f"{off['speedup_threads1']:.2f}x / {off['speedup_threads2']:.2f}x")
        else:
            line += "; librosa not installed (pip install 'vjbridge[train]') for the comparison"
        print(line)
    for f in report.get("file", []):
        line = (f"whole file {f['path']} @ {f['fps']:g} fps: extract_file {f['ours_cpu_s']:.3f} s "
                f"CPU (p95 {f['ours_cpu_p95_s']:.3f}), {f['ours_s']:.3f} s wall (p95 "
                f"{f['ours_p95_s']:.3f})")
        if f["speedup"] is not None:
            line += (f"; librosa.load(sr=22050) + reference features {f['librosa_cpu_s']:.3f} s CPU "
                     f"(p95 {f['librosa_cpu_p95_s']:.3f}), {f['librosa_s']:.3f} s wall (p95 "
                     f"{f['librosa_p95_s']:.3f}); ours / librosa {1 / f['speedup_cpu']:.2f} CPU, "
                     f"{1 / f['speedup']:.2f} wall (medians of {f['runs']} alternated runs)")
        print(line)
    imp = report["import"]
    print(f"import bridge: {imp['seconds'] * 1e3:.0f} ms; pulls in librosa={imp['librosa']} "
          f"sklearn={imp['sklearn']} av={imp['av']}")
    if "pipeline" in report:
        from bridge.runtime.bench_pipeline import format_report

        print(format_report(report["pipeline"]))
    return 0
