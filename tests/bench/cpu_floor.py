"""Benchmark (not a test): the CPU a process pays before vjbridge does any work at all.

    .venv/bin/python -m tests.bench.cpu_floor [--seconds 10] [--runs 3] [--only NAME ...]

Why: issue 9 asks for the whole daemon at <= 3 % of one core at 60 Hz. Before cutting more of
vjbridge's own work, this measures the floors under it on the same machine and in the same minutes,
each in a fresh child process (its whole-process CPU, ``os.times``, over a window after 1 s of
warm-up), so the remaining budget is known:

* ``idle``: a Python process that only waits (the baseline: ~0);
* ``tick60``: a thread that wakes at 60 Hz and does nothing (the engine's wake-ups alone);
* ``tick60-numpy50`` / ``tick60-numpy200``: the same, doing 50 / 200 small numpy calls per wake
  (a 60 Hz frame of extractor, models, signals and mapping makes a few hundred such calls);
* ``stream-5ms`` / ``stream-10ms``: a sounddevice ``InputStream`` at 48 kHz stereo, "low"
  latency, on a private PulseAudio null sink playing music, whose callback only copies the block
  into a ``queue.SimpleQueue`` that a reader thread drains (what :class:`DeviceSource` does, with
  nothing downstream); ``raw-5ms``: the same through ``RawInputStream`` (bytes, no numpy array
  per callback);
* ``blocking-read``: a blocking ``RawInputStream.read`` of one 60 Hz frame at a time (no
  callback thread in Python);
* ``parec-5ms`` / ``parec-10ms``: not Python at all: PulseAudio's own recorder (``parec``, a native
  client of the same server, pulseaudio-utils) reading the same source at 48 kHz stereo float with
  a 5 / 10 ms latency request into /dev/null, its CPU read from /proc: what any client, native or
  not, pays for the stream on this machine.

Medians and the spread over ``--runs`` rounds (the variants alternate round by round, so a busy
minute hits all of them). Quoted in README "Measured speed" (the daemon CPU row). Measured, never
asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
MUSIC = ROOT / "tests" / "data" / "music" / "wesnoth-battle.ogg"
RATE = 48000


def _ticker(calls: int):
    def run(stop: threading.Event) -> None:
        x = np.ones(256)
        period, t = 1.0 / 60.0, time.monotonic()
        while not stop.is_set():
            t += period
            time.sleep(max(0.0, t - time.monotonic()))
            for _ in range(calls):
                x = x * 1.0
    return run


def _stream(block_ms: float, *, raw: bool):
    def run(stop: threading.Event) -> None:
        import sounddevice as sd

        q: queue.SimpleQueue = queue.SimpleQueue()
        if raw:
            def callback(indata, frames, time_info, status):
                q.put((bytes(indata), time.perf_counter()))
            kind = sd.RawInputStream
        else:
            def callback(indata, frames, time_info, status):
                q.put((indata.copy(), time.perf_counter()))
            kind = sd.InputStream
        with kind(samplerate=RATE, blocksize=round(RATE * block_ms / 1000), channels=2,
                  dtype="float32", latency="low", device="pulse", callback=callback):
            while not stop.is_set():
                try:
                    q.get(timeout=0.1)
                except queue.Empty:
                    pass
    return run


def _blocking(stop: threading.Event) -> None:
    import sounddevice as sd

    with sd.RawInputStream(samplerate=RATE, channels=2, dtype="float32", latency="low",
                           device="pulse") as stream:
        while not stop.is_set():
            stream.read(RATE // 60)


def _parec(latency_ms: int):
    """``parec`` as a child of this process, which only waits; ``measure_here`` adds its CPU."""
    def run(stop: threading.Event) -> None:
        proc = subprocess.Popen(["parec", f"--latency-msec={latency_ms}", "--format=float32le",
                                 f"--rate={RATE}", "--channels=2"], stdout=subprocess.DEVNULL)
        _CHILDREN.append(proc.pid)
        try:
            stop.wait()
        finally:
            proc.kill()
            proc.wait()
    return run


#: PIDs of native clients started by a variant: their CPU counts as the variant's
_CHILDREN: list[int] = []


VARIANTS = {
    "idle": lambda stop: stop.wait(),
    "tick60": _ticker(0),
    "tick60-numpy50": _ticker(50),
    "tick60-numpy200": _ticker(200),
    "stream-5ms": _stream(5, raw=False),
    "stream-10ms": _stream(10, raw=False),
    "raw-5ms": _stream(5, raw=True),
    "blocking-read": _blocking,
    "parec-5ms": _parec(5),
    "parec-10ms": _parec(10),
}


def _cpu() -> float:
    """This process's CPU (s), plus that of the native clients it started (still running)."""
    t = os.times()
    total = t.user + t.system
    tick = os.sysconf("SC_CLK_TCK")
    for pid in _CHILDREN:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def measure_here(name: str, seconds: float) -> float:
    """In this process: % of one core while ``name`` runs, after 1 s of warm-up."""
    stop = threading.Event()
    worker = threading.Thread(target=VARIANTS[name], args=(stop,), daemon=True)
    worker.start()
    time.sleep(1.0)
    c0, w0 = _cpu(), time.monotonic()
    time.sleep(seconds)
    c1, w1 = _cpu(), time.monotonic()
    stop.set()
    worker.join(2.0)
    return 100.0 * (c1 - c0) / (w1 - w0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", nargs="+", choices=sorted(VARIANTS), default=list(VARIANTS))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(measure_here(args.child, args.seconds)))
        return 0
    from tests.bench.latency.pulse import PrivatePulse

    results: dict[str, list[float]] = {name: [] for name in args.only}
    with PrivatePulse(rate=RATE) as pulse:
        player = pulse.play(MUSIC)
        try:
            for r in range(args.runs):
                for name in args.only:
                    out = subprocess.run(
                        [sys.executable, "-m", "tests.bench.cpu_floor", "--child", name,
                         "--seconds", str(args.seconds)], env=dict(pulse.env, PYTHONPATH=str(ROOT)),
                        cwd=ROOT, capture_output=True, text=True, timeout=args.seconds + 30)
                    if out.returncode != 0:
                        print(f"{name}: failed: {out.stderr.strip().splitlines()[-1:]}")
                        continue
                    results[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(f"round {r + 1}/{args.runs} done, load average {os.getloadavg()[0]:.1f}",
                      flush=True)
        finally:
            player.kill()
    print(f"{'variant':18} {'median %':>9} {'min-max %':>12}")
    for name, values in results.items():
        if values:
            print(f"{name:18} {np.median(values):9.2f} {min(values):5.2f}-{max(values):5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
