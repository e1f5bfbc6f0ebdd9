"""Where the real daemon's CPU goes: /proc per thread, py-spy and perf on its engine thread.

    python -m tests.bench.latency.profile_daemon --source demo|pulse [--seconds 20] [--out DIR]
                                                 [-- DAEMON ARGS]

Why this and not ``vjbridge bench``: the bench harness feeds the pipeline from a pre-filled queue;
the daemon waits on a live queue with timeouts, runs a source thread (the demo synthesiser or
PortAudio's callback), a status line and its ``_info`` announcements. This starts the daemon as a
user does (``vjbridge run --demo``, or ``--device pulse`` on a private null sink playing real music
from tests/data/music at 48 kHz), sends its OSC to a local UDP socket that discards it, then:

1. **CPU, no profiler attached**: utime+stime of the process and of every thread (named through
   ``py-spy dump``) over ``--seconds``, and the packets received: engine-thread CPU per packet.
2. **py-spy record --gil** (``--format raw --threads``) over ``--seconds``: the engine thread's
   samples while it holds the GIL (running Python or GIL-holding C such as small numpy calls),
   grouped by what the engine was doing (the deepest known frame of each stack), and its hottest
   leaf frames; a ``--native`` flame graph (``SOURCE.svg``) beside it for reading.
3. **perf record -e cpu-clock -t ENGINE** (when perf is installed) over ``--seconds``: the engine
   thread's on-CPU samples by shared object (interpreter, numpy, onnxruntime, FFTW, kernel...).

Why py-spy with ``--gil`` and perf beside it: py-spy's default "non-idle" samples counted the
engine blocked in ``Queue.get``'s futex wait as active (65 % of its samples on the demo daemon, a
libc leaf), while perf, which samples only a thread on a CPU, put 0.6 % in that wait. A thread
holding the GIL is running; onnxruntime's ``run`` releases the GIL, so its share is perf's.

The category shares times the measured engine CPU per packet give µs per packet per category: the
shares are sampled (with the profiler's own overhead), the CPU figure is the kernel's.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.bench.latency.daemon import ROOT, wait_for
from tests.bench.latency.e2e import py_spy
from tests.bench.latency.procstat import process_cpu, thread_cpu, threads_by_comm
from tests.bench.latency.pulse import BenchError, PrivatePulse, die_with_parent, stop_child

#: (frame function name, category): a sample counts for the deepest frame that appears here.
CATEGORIES = [
    ("Engine._loop", "loop itself (clock, deadline, poll check)"),
    ("Engine._process", "per-block bookkeeping (generation, mono mix, timers)"),
    ("Engine._frames", "per-frame bookkeeping (stream time, row dict)"),
    ("Engine._gap", "no-block path (_gap)"),
    ("Source.read", "queue read (Source.read -> Queue.get with timeout)"),
    ("StreamResampler.process", "resampler (soxr)"),
    ("FeatureExtractor.process", "feature extractor"),
    ("ModelStage.process", "models (onnxruntime)"),
    ("SignalsStage.process", "classic signals"),
    ("SpectrumStage.process", "spectrum stage"),
    ("Engine._send", "mapping + OSC encode + send"),
    ("MappingOutput.poll", "once-a-second poll (_info, mapping reload check)"),
]
_RULES = dict(CATEGORIES)


class DiscardSink:
    """A UDP socket on 127.0.0.1 that counts datagrams and drops them (the daemon's target)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                self.sock.recv(65536)
                self.count += 1
            except socket.timeout:
                pass

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def thread_names(pid: int, spy: str) -> dict[int, str]:
    """Every thread of ``pid``: its ``threading`` name from ``py-spy dump``, else its kernel name
    (PortAudio's and PulseAudio's native threads, onnxruntime's pool)."""
    out = subprocess.run([spy, "dump", "--nonblocking", "--pid", str(pid)], capture_output=True,
                         text=True, timeout=30).stdout
    named = {int(t): n for t, n in re.findall(r'^Thread (\d+) \([^)]*\): "([^"]*)"', out, re.M)}
    return {tid: named.get(tid, f"[{comm}]") for tid, comm in threads_by_comm(pid).items()}


def music_wav(path: Path, seconds: float) -> Path:
    """The three test excerpts (tests/data/music) at 48 kHz, looped to ``seconds``."""
    import numpy as np

    from bridge import load_audio
    from tests.bench.latency.clicks import write_wav

    tracks = [load_audio(p, sample_rate=48000) for p in sorted((ROOT / "tests/data/music").glob(
        "*.og*"))]
    y = np.concatenate(tracks)
    y = np.tile(y, int(np.ceil(seconds * 48000 / y.size)))[:int(seconds * 48000)]
    return write_wav(path, 0.9 * y / max(1e-9, float(np.abs(y).max())))


def cpu_phase(pid: int, names: dict[int, str], sink: DiscardSink, seconds: float) -> dict:
    tids = list(names)
    p0, t0 = process_cpu(pid), {t: thread_cpu(pid, t) for t in tids}
    n0, w0 = sink.count, time.perf_counter()
    time.sleep(seconds)
    p1, t1 = process_cpu(pid), {t: thread_cpu(pid, t) for t in tids}
    n1, w1 = sink.count, time.perf_counter()
    wall = w1 - w0
    threads = {f"{names[t]} ({t})": 100 * (t1[t] - t0[t]) / wall for t in tids
               if t0[t] is not None and t1[t] is not None}
    engine = [v for k, v in threads.items() if k.startswith("engine (")]
    packets = n1 - n0
    out = {"seconds": wall, "process_pct": 100 * (p1 - p0) / wall, "threads_pct": threads,
           "packets_per_s": packets / wall}
    if engine and packets:
        out["engine_us_per_packet"] = engine[0] / 100 * wall / packets * 1e6
    return out


def perf_dsos(tid: int, seconds: float) -> dict | None:
    """On-CPU samples of one thread by shared object (``perf record -e cpu-clock -t``): the
    kernel's view, unlike py-spy's, of when the thread really runs. None without perf."""
    perf = shutil.which("perf")
    if perf is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "perf.data"
        rec = subprocess.run([perf, "record", "-q", "-e", "cpu-clock", "-F", "1000", "-t", str(tid),
                              "-o", str(data), "--", "sleep", str(seconds)], capture_output=True,
                             text=True, timeout=seconds + 60)
        if rec.returncode != 0:
            return {"error": rec.stderr.strip()[-300:]}
        rep = subprocess.run([perf, "report", "-i", str(data), "--no-children", "--sort", "dso",
                              "--stdio", "-g", "none"], capture_output=True, text=True, timeout=60)
    out = {}
    for line in rep.stdout.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S.*?)\s*$", line)
        if m:
            out[m.group(2)] = float(m.group(1))
    return {"seconds": seconds, "rate_hz": 1000, "dso_pct": out}


def categorise(raw: str, engine_tid: int) -> dict:
    """Engine-thread samples of a py-spy raw file: per category, and the hottest leaf frames."""
    cats, leaves, total = collections.Counter(), collections.Counter(), 0
    for line in raw.splitlines():
        head, _, count = line.rpartition(" ")
        if not head.startswith(f"thread ({engine_tid})"):
            continue
        n = int(count)
        frames = [f.split(" (")[0] for f in head.split(";")[1:]]
        cat = "other (outside Engine._loop: start-up, thread entry)"
        for f in frames:
            if f in _RULES:
                cat = _RULES[f]
        cats[cat] += n
        leaves[head.split(";")[-1]] += n
        total += n
    return {"samples": total, "categories": dict(cats.most_common()),
            "top_leaves": dict(leaves.most_common(15))}


def profile(source: str, seconds: float, out_dir: Path, extra: list[str], rate: int) -> dict:
    spy = py_spy()
    if spy is None:
        raise BenchError("py-spy is missing: pip install py-spy")
    out_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        sink = DiscardSink()
        stack.callback(sink.close)
        env = None
        args = ["--demo"]
        if source == "pulse":
            pulse = stack.enter_context(PrivatePulse())
            wav = music_wav(Path(stack.enter_context(tempfile.TemporaryDirectory())) / "m.wav",
                            3 * seconds + 30)
            player = pulse.play(wav)
            stack.callback(stop_child, player)
            env, args = pulse.env, ["--device", "pulse"]
        command = [sys.executable, "-m", "bridge.cli", "run", *args, "--osc",
                   f"127.0.0.1:{sink.port}", *extra]
        log = stack.enter_context(tempfile.NamedTemporaryFile(prefix="vjb-profile-"))
        daemon = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True,
                                  preexec_fn=die_with_parent)
        stack.callback(stop_child, daemon, __import__("signal").SIGINT, 15)
        wait_for(lambda: sink.count > 0, 60, "the daemon's first packet")
        time.sleep(3)  # past start-up and warm-up
        names = thread_names(daemon.pid, spy)
        engine = [t for t, n in names.items() if n == "engine"]
        if not engine:
            raise BenchError(f"py-spy dump shows no 'engine' thread: {names}")
        cpu = cpu_phase(daemon.pid, names, sink, seconds)
        raw_path, svg_path = out_dir / f"{source}.raw.txt", out_dir / f"{source}.svg"
        record = [spy, "record", "--pid", str(daemon.pid), "--rate", str(rate), "--threads"]
        for fmt, path, duration, how in (("raw", raw_path, seconds, ["--gil"]),
                                          ("flamegraph", svg_path, 10, ["--native"])):
            subprocess.run([*record, *how, "--duration", str(int(duration)), "--format", fmt,
                            "-o", str(path)], check=True, capture_output=True,
                           timeout=duration + 60)
        perf = perf_dsos(engine[0], seconds)
        stop_child(daemon, __import__("signal").SIGINT, 15)
        summary = [line for line in Path(log.name).read_text(errors="replace").splitlines()
                   if line.startswith("vjbridge: ")][-3:]
    return {"source": source, "command": ["vjbridge", *command[3:]], "cpu": cpu, "perf": perf,
            "profile": categorise(raw_path.read_text(), engine[0]), "raw": str(raw_path),
            "svg": str(svg_path), "daemon_summary": summary}


def format_profile(p: dict) -> str:
    cpu, prof = p["cpu"], p["profile"]
    lines = [f"{' '.join(p['command'])}",
             f"  CPU over {cpu['seconds']:.0f} s: process {cpu['process_pct']:.1f} % of one core, "
             f"{cpu['packets_per_s']:.1f} packets/s, engine thread "
             f"{cpu.get('engine_us_per_packet', float('nan')):.0f} µs per packet"]
    lines += [f"    {name:<40} {pct:5.1f} %" for name, pct in
              sorted(cpu["threads_pct"].items(), key=lambda kv: -kv[1])]
    per = cpu.get("engine_us_per_packet")
    if p.get("perf") and "dso_pct" in p["perf"]:
        lines.append("  engine thread on CPU (perf, cpu-clock), by shared object:")
        dsos = list(p["perf"]["dso_pct"].items())[:10]
        lines += [f"    {pct:5.1f} %  {dso}" for dso, pct in dsos]
    lines.append(f"  engine thread holding the GIL, {prof['samples']} py-spy samples:")
    for name, n in prof["categories"].items():
        share = n / max(1, prof["samples"])
        us = "" if per is None else f" ~{share * per:5.0f} µs/packet"
        lines.append(f"    {100 * share:5.1f} %{us}  {name}")
    lines.append("  hottest leaf frames:")
    lines += [f"    {n:5d}  {leaf}" for leaf, n in list(prof["top_leaves"].items())[:10]]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.latency.profile_daemon")
    parser.add_argument("--source", choices=["demo", "pulse"], default="demo")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--out", default="/tmp/vjb-profile", help="where raw + svg go")
    parser.add_argument("--json", metavar="OUT")
    parser.add_argument("daemon_args", nargs="*")
    args = parser.parse_args(argv)
    try:
        result = profile(args.source, args.seconds, Path(args.out), args.daemon_args, args.rate)
    except BenchError as exc:
        print(f"profile_daemon: error: {exc}", file=sys.stderr)
        return 1
    print(format_profile(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
