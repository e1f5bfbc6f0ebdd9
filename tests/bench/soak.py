"""Soak (a benchmark, and the suite's soak at a small size): hours of audio at full speed through
real sinks, with RSS, threads, fds and queue lengths sampled; prints the RSS slope per hour.

    .venv/bin/python tests/bench/soak.py --audio-hours 24            # the issue's 24 h figure
    .venv/bin/python tests/bench/soak.py --audio-hours 1 --json soak.json

Why compressed time: a gallery runs for weeks; a leak of a few bytes per frame only shows after
hours. The demo groove at ``--speed 0`` feeds the real pipeline (:func:`bridge.runtime.pipeline.build`:
the shipped models, the signals, a mapping) inside the real :class:`~bridge.runtime.engine.Engine`
as fast as the machine allows (~20-30x real time), so a day of audio takes about an hour.

The sinks are real receivers started here: liblo's ``oscdump`` over UDP and over TCP (SLIP), and
``jack_midi_dump`` on a private JACK server for MIDI CCs and notes (``--no-midi`` without JACK).
Their output goes to ``wc -l`` in their own processes, so counting costs this process nothing.

Sampled every ``--sample-every`` s of wall time, in this process (which is the daemon): RSS
(``/proc/self/status``), threads (``/proc/self/task``), open fds (``/proc/self/fd``), the source's
block queue, the TCP transport's frame queue and the event record. After ``--warmup`` (a fraction
of the run's audio), the RSS slope is the least-squares line of RSS against hours of audio.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MAPPING = """\
version: 1
rate: 60
osc:
  udp: {{host: 127.0.0.1, port: {udp}, protocol: udp, bundle: true}}
  tcp: {{host: 127.0.0.1, port: {tcp}, protocol: tcp, framing: slip, bundle: true}}
{midi_targets}
routes:
{routes}
"""
SIGNALS = ["motion", "weight", "low", "mid", "high", "rms", "onset", "kick",
           "snare", "beat"]


def mapping_text(udp: int, tcp: int, midi: str | None) -> str:
    routes = []
    for name in SIGNALS:
        routes.append(f"  - {{signal: {name}, osc: {{target: udp, address: /soak/{name}}}}}")
        routes.append(f"  - {{signal: {name}, osc: {{target: tcp, address: /soak/{name}}}}}")
    midi_targets = ""
    if midi:
        midi_targets = f"midi:\n  dump: {{port: '{midi}'}}"
        routes.append("  - {signal: low, midi: {cc: 20}}")
        routes.append("  - {signal: rms, midi: {cc: 21}}")
        routes.append("  - {signal: kick, midi: {note: 36, length_ms: 50}}")
    return MAPPING.format(udp=udp, tcp=tcp, midi_targets=midi_targets, routes="\n".join(routes))


class Counted:
    """A receiver whose stdout goes to ``wc -l`` (another process); ``stop()`` returns the count."""

    def __init__(self, argv: list[str], env=None):
        self._dir = tempfile.mkdtemp(prefix="vjb-soak-")
        self.count_file = Path(self._dir) / "count"
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=env)
        with open(self.count_file, "wb") as out:
            self.wc = subprocess.Popen(["wc", "-l"], stdin=self.proc.stdout, stdout=out)
        self.proc.stdout.close()  # wc holds the read end

    def stop(self) -> int:
        from tests.peers.base import stop_process

        stop_process(self.proc)
        self.wc.wait(timeout=10)
        text = self.count_file.read_text().strip()
        return int(text) if text else 0


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _transports(outputs) -> list:
    """The TCP transports inside the outputs (a shallow search: the mapping's sinks hold them)."""
    from bridge.sinks.transport import TcpTransport

    found, seen, todo = [], set(), [(o, 0) for o in outputs]
    while todo:
        obj, depth = todo.pop()
        if id(obj) in seen or depth > 5:
            continue
        seen.add(id(obj))
        if isinstance(obj, TcpTransport):
            found.append(obj)
            continue
        values = obj.values() if isinstance(obj, dict) else (
            obj if isinstance(obj, (list, tuple)) else getattr(obj, "__dict__", {}).values())
        todo.extend((v, depth + 1) for v in values if not isinstance(v, (str, bytes, int, float)))
    return found


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (audio hours, MB) points, in MB per hour of audio."""
    n = len(points)
    if n < 2:
        return float("nan")
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else float("nan")


def soak(audio_s: float, *, wall_limit_s: float, sample_every_s: float, warmup: float,
         midi: bool, models: bool) -> dict:
    from tests.peers.base import free_port, listening, poll, require

    require("oscdump", "liblo-tools")
    udp_port, tcp_port = free_port("udp"), free_port("tcp")
    receivers = {"osc_udp": Counted(["oscdump", "-L", str(udp_port)]),
                 "osc_tcp": Counted(["oscdump", "-L", f"osc.tcp://:{tcp_port}"])}
    poll(lambda: listening(udp_port, "udp") and listening(tcp_port, "tcp"),
         what="oscdump listening")
    jack = backend = None
    midi_port = None
    try:
        if midi:
            from tests.peers.jack import JackServer, jack_mido_backend

            require("jack_midi_dump", "jackd2")
            jack = JackServer().start()
            receivers["midi"] = Counted(["jack_midi_dump", "-a", "soakdump"], env=jack.env)
            poll(lambda: "soakdump:input" in jack.ports(), what="jack_midi_dump's port")
            backend = jack_mido_backend(jack)
            backend.__enter__()
            midi_port = "soakdump:input"
        return _run(audio_s, wall_limit_s, sample_every_s, warmup, models, receivers,
                    mapping_text(udp_port, tcp_port, midi_port))
    finally:
        for r in receivers.values():
            if r.proc.poll() is None:
                r.stop()
        if backend is not None:
            backend.__exit__(None, None, None)
        if jack is not None:
            jack.stop()


def _run(audio_s, wall_limit_s, sample_every_s, warmup, models, receivers, mapping) -> dict:
    from bridge.runtime.engine import LIVE_SPEC, Engine
    from bridge.runtime.pipeline import build
    from bridge.sources import DemoSource

    folder = Path(tempfile.mkdtemp(prefix="vjb-soak-map-"))
    (folder / "soak.yaml").write_text(mapping)
    stages, outputs, rate = build(LIVE_SPEC, mapping=str(folder / "soak.yaml"),
                                  models=None if models else [])
    source = DemoSource(LIVE_SPEC.sample_rate, speed=0.0, block_seconds=0.01)
    engine = Engine(source, stages, outputs, output_rate=rate)
    tcp = _transports(outputs)
    stop = threading.Event()
    failure: list[BaseException] = []

    def work():
        try:
            engine.run(stop)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failure.append(exc)
            stop.set()

    samples = []
    thread = threading.Thread(target=work, name="engine")
    started = time.monotonic()
    thread.start()
    fps = LIVE_SPEC.frame_rate
    try:
        while not stop.is_set():
            stop.wait(sample_every_s)
            wall = time.monotonic() - started
            samples.append({
                "wall_s": round(wall, 2), "audio_s": round(engine.frames / fps, 2),
                "rss_mb": round(_rss_mb(), 3), "threads": len(os.listdir("/proc/self/task")),
                "fds": len(os.listdir("/proc/self/fd")), "source_queue": source._queue.qsize(),
                "tcp_queue": sum(len(t._q) for t in tcp), "events": len(engine.events.recent()),
                "packets": engine.ticks, "drops": engine.drops})
            if engine.frames / fps >= audio_s or wall >= wall_limit_s:
                break
    finally:
        stop.set()
        thread.join(30)
    counts = {name: r.stop() for name, r in receivers.items()}
    if failure:
        raise failure[0]
    return report(samples, warmup, counts, engine)


def report(samples: list[dict], warmup: float, counts: dict, engine=None) -> dict:
    last = samples[-1]
    after = [s for s in samples if s["audio_s"] >= warmup * last["audio_s"]]
    points = [(s["audio_s"] / 3600.0, s["rss_mb"]) for s in after]
    out = {
        "audio_hours": round(last["audio_s"] / 3600.0, 3), "wall_s": last["wall_s"],
        "speed": round(last["audio_s"] / max(last["wall_s"], 1e-9), 1),
        "rss_slope_mb_per_hour": round(slope_per_hour(points), 3),
        "rss_after_warmup_mb": [min(s["rss_mb"] for s in after), max(s["rss_mb"] for s in after)],
        "rss_start_mb": samples[0]["rss_mb"], "rss_end_mb": last["rss_mb"],
        "threads_after_warmup": [min(s["threads"] for s in after), max(s["threads"] for s in after)],
        "fds_after_warmup": [min(s["fds"] for s in after), max(s["fds"] for s in after)],
        "max_source_queue": max(s["source_queue"] for s in samples),
        "max_tcp_queue": max(s["tcp_queue"] for s in samples),
        "max_events": max(s["events"] for s in samples),
        "packets": last["packets"], "drops": last["drops"], "received_lines": counts,
        "samples": samples, "warmup_fraction": warmup,
        "overruns": getattr(getattr(engine, "source", None), "overruns", None),
    }
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--audio-hours", type=float, default=24.0, help="hours of audio to run")
    p.add_argument("--wall-limit", type=float, default=48 * 3600.0, metavar="S",
                   help="stop after S seconds of wall time, whatever the audio")
    p.add_argument("--sample-every", type=float, default=10.0, metavar="S")
    p.add_argument("--warmup", type=float, default=0.1, metavar="FRACTION",
                   help="leave the first FRACTION of the run's audio out of the slope")
    p.add_argument("--no-midi", action="store_true", help="no JACK MIDI sink")
    p.add_argument("--no-models", action="store_true", help="run no models")
    p.add_argument("--json", metavar="FILE", help="write every sample and the figures here")
    a = p.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    r = soak(a.audio_hours * 3600.0, wall_limit_s=a.wall_limit, sample_every_s=a.sample_every,
             warmup=a.warmup, midi=not a.no_midi, models=not a.no_models)
    if a.json:
        Path(a.json).write_text(json.dumps(r, indent=1))
    print(f"soak: {r['audio_hours']:.2f} h of audio in {r['wall_s']:.0f} s ({r['speed']:g}x real "
          f"time), {r['packets']} packets, {r['drops']} drops, received {r['received_lines']}")
    print(f"soak: RSS slope after warm-up {r['rss_slope_mb_per_hour']:+.3f} MB per hour of audio "
          f"(RSS {r['rss_start_mb']:.1f} MB at start, {r['rss_after_warmup_mb'][0]:.1f}.."
          f"{r['rss_after_warmup_mb'][1]:.1f} MB after warm-up, {r['rss_end_mb']:.1f} MB at end)")
    print(f"soak: threads {r['threads_after_warmup']}, fds {r['fds_after_warmup']} after warm-up; "
          f"max queues: source {r['max_source_queue']} blocks, tcp {r['max_tcp_queue']} frames, "
          f"events {r['max_events']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
