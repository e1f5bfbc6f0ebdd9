"""End-to-end latency: sound -> OSC packet of ``vjbridge run --device pulse``, beside aubio.

    python -m tests.bench.latency.e2e [--clicks 60] [--runs 1] [--json OUT] [-- DAEMON ARGS]
    vjbridge bench --e2e [...]                      (runs this)

One run, as a new user's set-up would: a private PulseAudio server with a 48 kHz null sink (its
monitor is the input), a WAV of clicks played with paplay, and on the same monitor source three
clients: the time reference and aubio's onset detector (this process, 64-frame low-latency
streams, stamped on arrival; see capture.py) and the daemon with its default options, sending OSC
to a receiver here (receiver.py). Per click: the first packet saying "event" (onset >= 0.5; kick,
snare = 1) minus the click's arrival at the reference. Also: packet spacing at the receiver, the
daemon's CPU (whole process and its ``engine`` thread) while the clicks play, the load average.

Figures are measured, never asserted: the README publishes them with the load they were taken at.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from bridge.sources.portaudio import rescan
from tests.bench.latency import analysis, clicks
from tests.bench.latency.capture import (AubioCapture, StampedCapture, pulse_device,
                                          require_aubio)
from tests.bench.latency.daemon import Daemon, wait_for
from tests.bench.latency.procstat import find_thread, process_cpu, thread_cpu
from tests.bench.latency.pulse import BenchError, PrivatePulse, stop_child
from tests.bench.latency.receiver import OscReceiver
from tests.bench.latency.report import format_report, format_run, write_json

#: vjbridge's addresses (default mapping and --mapping none alike) and the level that is "event".
VJBRIDGE_EVENTS = {"onset": 0.5, "kick": 0.999, "snare": 0.999}
SETTLE = 1.5  # s between the daemon's first packet and the first click
INSTRUMENT_NICE = -10  # of the reference, aubio and receiver threads (the daemon: SCHED_FIFO 20)


@contextlib.contextmanager
def instrument_priority():
    """While open, threads this thread creates inherit nice -10 (the capture and receiver threads),
    so the instrument stamps promptly on a busy machine; the daemon is started after, as usual.

    Why not SCHED_FIFO (as the daemon's engine uses): PortAudio's ALSA "pulse" stream start and its
    64-frame callback loop busy-wait on PulseAudio's own threads; at SCHED_FIFO 40 they starved
    the server and each other: measured here, two threads at 100 % each, the stream never started
    and the load average went to 19. A nice level cannot starve anything."""
    tid = threading.get_native_id()
    try:
        saved = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, INSTRUMENT_NICE)
        got = f"nice {INSTRUMENT_NICE}"
    except (AttributeError, PermissionError, OSError):
        saved, got = None, "normal (nice -10 refused: figures are noisier under load)"
    try:
        yield got
    finally:
        if saved is not None:
            os.setpriority(os.PRIO_PROCESS, tid, saved)


def import_sounddevice(pulse: PrivatePulse):
    """sounddevice talking to ``pulse``: PortAudio reads the server address at initialisation."""
    os.environ["XDG_RUNTIME_DIR"] = pulse.dir
    for key in ("PULSE_SERVER", "PULSE_SINK", "PULSE_SOURCE"):
        os.environ.pop(key, None)
    already = "sounddevice" in sys.modules
    try:
        import sounddevice as sd
    except OSError as exc:
        raise BenchError(f"PortAudio is missing ({exc}): apt-get install libportaudio2") from None
    if already:
        rescan(sd)  # PortAudio read the devices before PULSE_SERVER pointed here
    return sd


def output_period(extra: list[str]) -> float:
    """The nominal tick period: ``--output-rate`` in the daemon args, else the mapping's 60 Hz."""
    for i, arg in enumerate(extra):
        if arg == "--output-rate" and i + 1 < len(extra):
            return 1.0 / float(extra[i + 1])
        if arg.startswith("--output-rate="):
            return 1.0 / float(arg.split("=", 1)[1])
    return 1.0 / 60.0


def measure_once(pulse: PrivatePulse, sd, wav: Path, n_clicks: int, extra: list[str]) -> dict:
    """One run: fresh receiver, captures and daemon; the clicks once; raw figures per detector."""
    device = pulse_device(sd)
    play_seconds = clicks.LEAD_IN + (n_clicks - 1) * 0.5 + clicks.TAIL
    capacity = play_seconds + 90  # daemon start-up included
    with contextlib.ExitStack() as stack:
        with instrument_priority() as priority:
            rx = stack.enter_context(OscReceiver())
            ref = StampedCapture(sd, device, capacity)
            stack.callback(ref.close)
            peer = AubioCapture(sd, device, capacity)
            stack.callback(peer.close)
            ref.start()
            peer.start()
        daemon = Daemon(rx.port, extra, pulse.env)
        stack.callback(daemon.cleanup)
        daemon.start()
        wait_for(lambda: rx.datagrams, 60, "the daemon's first OSC packet", daemon.check_alive)
        wait_for(lambda: len(ref.stamps) >= 10, 10, "the reference capture's first blocks")
        engine_tid, engine_how = find_thread(daemon.pid, "engine", py_spy())
        time.sleep(SETTLE)
        daemon.check_alive()
        load_before = os.getloadavg()
        cpu0, eng0 = process_cpu(daemon.pid), _maybe(engine_tid, daemon.pid)
        t0 = time.perf_counter()
        player = pulse.play(wav)
        stack.callback(stop_child, player)
        try:
            player.wait(timeout=play_seconds + 20)
        except subprocess.TimeoutExpired:
            raise BenchError("paplay did not finish playing the clicks in time") from None
        if player.returncode != 0:
            raise BenchError(f"paplay failed: {player.stderr.read().decode(errors='replace')}")
        time.sleep(analysis.AFTER + 0.2)
        daemon.check_alive()
        cpu1, eng1 = process_cpu(daemon.pid), _maybe(engine_tid, daemon.pid)
        t1 = time.perf_counter()
        load_after = os.getloadavg()
        rc = daemon.stop()
        wall = t1 - t0
        return {
            "instrument_priority": priority, "daemon_command": daemon.command[1:],
            "daemon_exit": rc, "daemon_summary": daemon.summary(),
            "load_before": list(load_before), "load_after": list(load_after),
            "window": (t0, t1), "ref": ref, "peer": peer, "messages": rx.messages(),
            "datagrams": len(rx.datagrams),
            "cpu": {"seconds": wall, "process_pct": 100 * (cpu1 - cpu0) / wall,
                    "engine_pct": None if eng0 is None or eng1 is None
                    else 100 * (eng1 - eng0) / wall,
                    "engine_thread": engine_tid, "engine_found_by": engine_how},
        }


def py_spy() -> str | None:
    """py-spy on PATH or beside this Python (a venv's bin/ is often not on PATH)."""
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


def _maybe(tid, pid):
    return None if tid is None else thread_cpu(pid, tid)


def analyse(raw: dict, n_clicks: int, period: float) -> dict:
    """Per detector: latency stats against the reference's click arrivals; packets; CPU."""
    ref, peer, t0, t1 = raw["ref"], raw["peer"], *raw["window"]
    found = clicks.find_clicks(ref.samples[:ref.filled])
    arrivals = np.array([ref.arrival_of(int(i)) for i in found])
    arrivals = arrivals[(arrivals >= t0) & (arrivals <= t1)]
    if arrivals.size != n_clicks:  # lost audio or a stopped player: not a measurement
        raise BenchError(f"the reference heard {arrivals.size} of the {n_clicks} clicks played "
                         f"({ref.overflows} overflows): audio was lost, the run is void")
    detectors, per_click = {}, {}
    by_address: dict[str, list] = {}
    for m in raw["messages"]:
        by_address.setdefault(m.address.rsplit("/", 1)[-1], []).append(m)
    for name, level in VJBRIDGE_EVENTS.items():
        msgs = by_address.get(name, [])
        edges = analysis.rising_edges([m.stamp for m in msgs],
                                      [float(m.value) for m in msgs], level)
        paired = analysis.pair(arrivals, edges)
        detectors[f"vjbridge {name}"] = analysis.latency_stats(paired["latencies"], paired["false"])
        per_click[f"vjbridge {name}"] = paired["latencies"]
    paired = analysis.pair(arrivals, peer.detections)
    detectors["aubio onset"] = analysis.latency_stats(paired["latencies"], paired["false"])
    per_click["aubio onset"] = paired["latencies"]
    # the paced packets: those that carry rms, a continuous signal in every tick; the others are
    # the frames' events sent ahead of them (and /_info)
    data = sorted({(m.datagram, m.stamp) for m in raw["messages"] if m.address.endswith("/rms")})
    stamps = [s for _, s in data if t0 <= s <= t1]
    early = {m.datagram for m in raw["messages"] if t0 <= m.stamp <= t1} - {d for d, _ in data}
    intervals = ref.block_intervals()
    # PortAudio hands a client its 64-frame blocks in bursts (callbacks ~0.05 ms apart); the
    # spacing of the bursts is the reference's real time resolution
    bursts = intervals[intervals > 0.0005]
    return {
        "clicks": n_clicks, "clicks_at_reference": int(arrivals.size),
        "load_before": raw["load_before"], "load_after": raw["load_after"],
        "detectors": detectors, "packets": analysis.gap_stats(stamps, period) | {"early": len(early)}, "cpu": raw["cpu"],
        "reference": {"stream_latency_ms": ref.latency * 1e3, "overflows": ref.overflows,
                      "block_interval_median_ms": float(np.median(intervals) * 1e3),
                      "block_interval_max_ms": float(intervals.max() * 1e3),
                      "burst_gap_median_ms": float(np.median(bursts) * 1e3) if bursts.size
                      else None,
                      "burst_gap_p95_ms": float(np.percentile(bursts, 95) * 1e3) if bursts.size
                      else None,
                      "priority": raw["instrument_priority"]},
        "aubio": peer.describe(), "daemon_command": raw["daemon_command"],
        "daemon_exit": raw["daemon_exit"], "daemon_summary": raw["daemon_summary"],
        "_per_click": per_click,
    }


def pooled(runs: list[dict]) -> dict:
    """Every run's clicks together, per detector, and vjbridge onset's median against aubio's."""
    out = {}
    for name in runs[0]["_per_click"]:
        lat = np.concatenate([r["_per_click"][name] for r in runs])
        out[name] = analysis.latency_stats(lat, sum(r["detectors"][name]["false"] for r in runs))
    ours, peer = out["vjbridge onset"]["median_ms"], out["aubio onset"]["median_ms"]
    out["onset_median_vs_aubio"] = ours / peer if ours is not None and peer else None
    return out


def run_benchmark(n_clicks: int = 60, runs: int = 1, extra: list[str] | None = None,
                  progress=print) -> dict:
    """The whole benchmark; returns the report (JSON-ready). Cleans up on any exit."""
    if n_clicks < 2:
        raise BenchError("--clicks must be at least 2")
    require_aubio()  # before anything starts
    extra = list(extra or [])
    period = output_period(extra)
    results = []
    env_before = dict(os.environ)
    with contextlib.ExitStack() as stack:
        pulse = stack.enter_context(PrivatePulse())
        stack.callback(_restore_env, env_before)
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vjb-e2e-")))
        wav = clicks.write_wav(tmp / "clicks.wav", clicks.click_track(n_clicks))
        sd = import_sounddevice(pulse)
        for k in range(runs):
            raw = measure_once(pulse, sd, wav, n_clicks, extra)
            results.append(analyse(raw, n_clicks, period))
            progress(format_run(results[-1], k + 1, runs))
    report = {"date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
              "cpus": os.cpu_count(), "clicks": n_clicks, "runs": results,
              "pooled": pooled(results)}
    for r in results:
        r["per_click_ms"] = {k: [None if np.isnan(v) else round(v * 1e3, 3) for v in lat]
                             for k, lat in r.pop("_per_click").items()}
    return report


def _restore_env(saved: dict) -> None:
    """The environment as it was, and PortAudio re-initialised from it (when the benchmark runs
    inside another program, e.g. pytest, its later streams must not look for our server)."""
    os.environ.clear()
    os.environ.update(saved)
    sd = sys.modules.get("sounddevice")
    if sd is not None:
        rescan(sd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.latency.e2e",
                                     description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_from_args(args)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clicks", type=int, default=60, help="clicks per run (default 60)")
    parser.add_argument("--runs", type=int, default=1, help="runs, each with a fresh daemon")
    parser.add_argument("--json", metavar="OUT", help="also write the report as JSON ('-': stdout)")
    parser.add_argument("daemon_args", nargs="*", metavar="-- DAEMON ARGS",
                        help="extra `vjbridge run` options, after --")


def run_from_args(args) -> int:
    def stop(signum, frame):  # SIGTERM unwinds like Ctrl-C: every child and the server stop
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    # with --json - the JSON alone goes to stdout (for a pipe), the tables to stderr
    text_out = sys.stderr if args.json == "-" else sys.stdout
    try:
        report = run_benchmark(args.clicks, args.runs, args.daemon_args,
                               progress=lambda text: print(text, file=text_out, flush=True))
    except BenchError as exc:
        print(f"vjbridge bench --e2e: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vjbridge bench --e2e: interrupted; everything it started is stopped",
              file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(format_report(report), file=text_out)
    if args.json:
        write_json(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
