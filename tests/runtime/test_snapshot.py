"""The engine-published snapshot, the /health verdict, target address warnings, drop events and
the timestamped status line: in-process, against a real engine on a file where one is needed."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
import socket
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pytest

from bridge.runtime.engine import Engine
from bridge.runtime.events import Events
from bridge.runtime.health import HealthDocument, health
from bridge.runtime.latency import Rolling
from bridge.runtime.osc_basic import OscOutput
from bridge.runtime.pipeline import SignalsStage
from bridge.runtime.snapshot import AUDIO_STALL_S, Publisher
from bridge.runtime.status import StatusLine
from bridge.runtime.targets import address_warnings
from bridge.sources import FileSource
from tests.runtime.peers import free_udp_port

ISO_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d vjbridge: \[")


def live_engine(path, *, speed=1.0):
    """A real engine (classic signals -> raw OSC to a port where nothing listens) on a file."""
    from bridge.runtime.engine import LIVE_SPEC

    output = OscOutput("127.0.0.1", free_udp_port())
    return Engine(FileSource(path, speed=speed), [SignalsStage(LIVE_SPEC)], [output])


def test_the_engine_publishes_immutable_snapshots_a_few_times_a_second(demo_wav):
    engine = live_engine(demo_wav)
    thread = threading.Thread(target=engine.run, daemon=True)
    thread.start()
    seen = []
    deadline = time.monotonic() + 20
    while len(seen) < 6 and time.monotonic() < deadline:  # six distinct publications
        snap = engine.snapshot
        if snap is not None and snap.engine_state == "running" and snap.packets and (
                not seen or snap.seq != seen[-1].seq):
            seen.append(snap)
        time.sleep(0.05)
    thread.join(timeout=20)
    assert len(seen) == 6, "the engine did not publish six snapshots"
    assert all(b.seq > a.seq and b.time > a.time and b.packets >= a.packets
               for a, b in zip(seen, seen[1:]))
    assert seen[-1].packets > seen[0].packets  # the show moved between reads
    assert any(a.values != b.values for a, b in zip(seen, seen[1:]))
    snap = seen[-1]
    assert set(snap.values) >= {"low", "mid", "high", "rms", "kick", "bpm"}
    assert [s.name for s in snap.signals] == list(snap.values)
    assert {s.name: s.kind for s in snap.signals}["kick"] == "trigger"
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.packets = 0
    with pytest.raises(TypeError):
        snap.values["low"] = 2.0  # a read-only view: readers cannot change what others see
    assert snap.source_kind == "file" and snap.device_state == "running"
    assert snap.output_rate == 60.0 and snap.targets[0].name == "osc:raw"
    # the end of the run is published too: a reader sees "stopped", not a stalled engine
    assert engine.snapshot.engine_state == "stopped"
    assert health(engine.snapshot)[0] == "down" and "engine stopped" in health(engine.snapshot)[1]
    json.loads(HealthDocument().render(engine.snapshot)[1])  # JSON without NaN


def test_triggers_are_counted_so_the_page_can_flash_them(demo_wav):
    sent = []

    class Recording(OscOutput):
        def send(self, values):
            sent.append(values.get("kick", 0.0))
            super().send(values)

    from bridge.runtime.engine import LIVE_SPEC

    engine = Engine(FileSource(demo_wav, speed=0), [SignalsStage(LIVE_SPEC)],
                    [Recording("127.0.0.1", free_udp_port())])
    engine.count_triggers = True  # what `vjbridge run --status-port` sets
    engine.run()
    fired = engine.snapshot.fired
    assert set(fired) >= {"kick", "snare", "beat"}
    assert fired["kick"] == sum(1 for v in sent if v) > 3  # the demo groove kicks on every beat
    quiet = live_engine(demo_wav, speed=0)  # no status page: nothing counted, nothing spent
    quiet.run()
    assert quiet.snapshot.fired == {}


class FakeSink:
    kind = "osc"

    def __init__(self):
        self.sent = self.drops = self.refused = 0
        self.transport = SimpleNamespace(addr=("127.0.0.1", 7000))
        self.host, self.protocol = "127.0.0.1", "udp"

    def describe(self):
        return "udp://127.0.0.1:7000 bundles"


def fake_engine(sink, events):
    output = SimpleNamespace(osc_sinks=lambda: {"show": sink})
    source = SimpleNamespace(state="running", kind="device", overruns=0, xruns=0,
                             describe=lambda: "audio input 3 'USB Audio'")
    return SimpleNamespace(source=source, outputs=[output], values={"low": 0.5}, fired={},
                           ticks=0, held_ticks=0, restarts=0, frames=0, latency=Rolling(),
                           output_rate=60.0, events=events, priority="normal", control=None,
                           levels=lambda: {}, _last_audio=0.0, snapshot=None)


def test_drops_over_the_threshold_become_one_warning_event_then_one_recovery():
    events = Events(logger=logging.getLogger("test.events"))
    sink = FakeSink()
    engine = fake_engine(sink, events)
    pub = Publisher(engine)
    t = 0.0
    for step in range(40):  # 8 s at 5 publishes a second
        t += 0.2
        engine.ticks += 12
        engine._last_audio = t
        if 5 <= step < 20:  # 3 s in which a fifth of the packets are dropped
            sink.sent, sink.drops = sink.sent + 10, sink.drops + 2
        else:
            sink.sent += 12
        snap = pub.publish(t)
        if step == 12:
            assert snap.targets[0].dropping
            status, reasons = health(snap, age=0.1)
            assert status == "degraded" and any("drops packets" in r for r in reasons), reasons
    assert not snap.targets[0].dropping and health(snap, age=0.1) == ("ok", [])
    said = [e.message for e in events.recent(kind="output")]
    assert len(said) == 2, said
    assert said[0].startswith("osc:show (udp://127.0.0.1:7000 bundles) is dropping packets")
    assert events.recent(kind="output")[0].level == logging.WARNING
    assert "without drops again" in said[1]
    assert 59 < snap.packets_per_s < 61


def test_a_target_where_nothing_listens_is_an_event_and_degraded_health():
    events = Events(logger=logging.getLogger("test.events"))
    sink = FakeSink()
    engine = fake_engine(sink, events)
    pub = Publisher(engine)
    pub.publish(0.1)
    sink.sent, sink.refused = 5, 5
    engine._last_audio = 0.3
    snap = pub.publish(0.3)
    assert not snap.targets[0].listening
    assert health(snap, age=0.0)[1] == ["nothing listening at osc:show (udp://127.0.0.1:7000 "
                                        "bundles)"]
    assert [e.message for e in events.recent()] == [
        "nothing is listening at osc:show (udp://127.0.0.1:7000 bundles); still sending"]


def test_a_tcp_receiver_that_accepts_and_never_reads_is_found_out():
    """A real TCP peer (tiny receive buffer) that accepts and never reads; a real OSC sink
    sends mel-sized bundles to it. The kernel takes them ("sent", no drop) until the backlog
    shows it: a warning event and degraded health, then "reads again" once it reads."""
    from bridge.sinks.messages import OscValue
    from bridge.sinks.osc import OscSink

    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    server.bind(("127.0.0.1", 0))
    server.listen()
    sink = OscSink("peer", host="127.0.0.1", port=server.getsockname()[1], protocol="tcp")
    peer, _ = server.accept()
    try:
        assert sink.transport.wait_connected(5)
        events = Events(logger=logging.getLogger("test.events"))
        engine = fake_engine(sink, events)
        pub = Publisher(engine)
        frame = [OscValue("/mel", tuple(0.5 for _ in range(64)))] * 4
        deadline = time.monotonic() + 20
        snap = pub.publish(time.perf_counter())
        while snap.targets[0].reading and time.monotonic() < deadline:
            sink.send(frame)
            engine._last_audio = time.perf_counter()
            time.sleep(0.01)
            snap = pub.publish(time.perf_counter())
        target = snap.targets[0]
        assert not target.reading and target.backlog >= 16 * 1024 and target.drops == 0
        status, reasons = health(snap, age=0.0)
        assert status == "degraded" and reasons[0].startswith(
            "osc:show (tcp://127.0.0.1:") and "does not read what it is sent" in reasons[0]
        said = events.recent(kind="output")[-1]
        assert said.level == logging.WARNING and "accepted the connection but does not read" in (
            said.message)
        peer.setblocking(False)
        deadline = time.monotonic() + 10
        while not snap.targets[0].reading and time.monotonic() < deadline:
            try:
                while peer.recv(65536):
                    pass
            except BlockingIOError:
                pass
            time.sleep(0.02)
            engine._last_audio = time.perf_counter()
            snap = pub.publish(time.perf_counter())
        assert snap.targets[0].reading
        assert events.recent(kind="output")[-1].message.endswith("reads again")
    finally:
        sink.close()
        peer.close()
        server.close()


def test_health_verdicts():
    events = Events(logger=logging.getLogger("test.events"))
    engine = fake_engine(FakeSink(), events)
    snap = Publisher(engine).publish(0.1)
    assert health(snap, age=0.1) == ("ok", [])
    assert health(None)[0] == "down"
    assert health(snap, age=2.5) == ("down", ["engine stalled: its newest state is 2.5 s old"])
    lost = dataclasses.replace(snap, device_state="lost", source_state="lost")
    assert health(lost, age=0.1) == ("down", ["input lost: audio input 3 'USB Audio'"])
    stalled = dataclasses.replace(snap, device_state="stalled", audio_age=0.8)
    assert health(stalled, age=0.1) == ("down",
                                        ["no audio from audio input 3 'USB Audio' for 0.8 s"])
    silent = dataclasses.replace(snap, input_state="silent", silent_for=75.0)
    assert health(silent, age=0.1) == ("degraded",
                                       ["input silent for 75 s: audio input 3 'USB Audio'"])
    behind = dataclasses.replace(snap, overruns_per_s=3.0)
    assert health(behind, age=0.1)[0] == "degraded"
    starting = dataclasses.replace(snap, engine_state="starting")
    assert health(starting, age=9.0) == ("down", ["engine starting"])  # models load: not stalled


def test_no_audio_for_half_a_second_is_a_stalled_input_at_once():
    engine = fake_engine(FakeSink(), Events(logger=logging.getLogger("test.events")))
    pub = Publisher(engine)
    engine._last_audio = 10.0
    assert pub.publish(10.0 + AUDIO_STALL_S - 0.1).device_state == "running"
    assert pub.publish(10.0 + AUDIO_STALL_S + 0.1).device_state == "stalled"
    engine.source.state = "lost"
    assert pub.publish(11.0).device_state == "lost"


def test_the_input_watch_state_reaches_the_snapshot_and_health():
    import numpy as np

    from bridge.runtime.input_watch import InputWatch

    engine = fake_engine(FakeSink(), Events(logger=logging.getLogger("test.events")))
    engine.input_watch = InputWatch(silence_after=30.0, events=engine.events)
    pub = Publisher(engine)
    assert pub.publish(0.0).input_state == "starting"
    quiet = np.zeros(480, dtype=np.float32)
    for i in range(3101):  # 31 s of 10 ms blocks below the floor
        engine.input_watch.process(quiet, i * 0.01)
    engine._last_audio = 31.0
    snap = pub.publish(31.0)
    assert snap.input_state == "silent" and 30.0 <= snap.silent_for <= 31.0
    doc = json.loads(HealthDocument().render(snap)[1])
    assert doc["source"]["input_state"] == "silent" and doc["source"]["silent_for_s"] >= 30.0
    assert doc["status"] == "degraded"
    engine.source.state = "lost"  # the device away: the input is "lost", whatever it heard last
    assert pub.publish(31.1).input_state == "lost"


def test_target_addresses_that_cannot_work_are_named():
    assert address_warnings("127.0.0.1", 7000) == []
    assert address_warnings("::1", 7000) == []
    assert "broadcast address" in address_warnings("255.255.255.255", 7000)[0]
    # the kernel knows 127.255.255.255 as lo's broadcast: the connect() probe says EACCES
    assert "broadcast address" in address_warnings("127.255.255.255", 7000)[0]
    assert "multicast group" in address_warnings("224.0.0.251", 7000)[0]
    assert "TCP cannot connect" in address_warnings("239.1.2.3", 7000, "tcp")[0]
    assert "not a destination" in address_warnings("0.0.0.0", 7000)[0]
    link_local = address_warnings("fe80::1", 7000)[0]
    assert "without an interface" in link_local and link_local.startswith("udp://[fe80::1]:7000")
    named = address_warnings("255.255.255.255", 9000, host="everyone.example")[0]
    assert named.startswith("udp://everyone.example:9000 (255.255.255.255) is a broadcast")


def test_an_unroutable_target_is_named_in_a_network_without_routes():
    """In a private network namespace with only loopback up, 192.0.2.1 has no route."""
    code = ("from bridge.runtime.targets import address_warnings as w; "
            "print(w('192.0.2.1', 7000)[0]); print(w('127.0.0.1', 7000))")
    out = subprocess.run(["unshare", "-n", "sh", "-c", f"ip link set lo up; exec {sys.executable} "
                          f"-c \"{code}\""], capture_output=True, text=True, timeout=60,
                         cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]))
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert first.startswith("udp://192.0.2.1:7000: this machine has no route there (ENETUNREACH)")
    assert second == "[]"


def test_plain_status_lines_start_with_the_local_iso_time(demo_wav):
    engine = live_engine(demo_wav, speed=0)
    stream = io.StringIO()
    line = StatusLine(engine, interactive=False, interval=0, stream=stream)
    line.update()  # before the engine published anything
    engine.run()
    line.update()
    first, second = stream.getvalue().splitlines()
    assert ISO_LINE.match(first) and "[starting]" in first
    assert ISO_LINE.match(second), second
    assert f"{engine.snapshot.packets} sent" in second and "pkt/s" in second


def test_publishing_costs_little(demo_wav):
    """Not a speed assertion: the figure for the report (median µs per publish)."""
    engine = live_engine(demo_wav, speed=0)
    engine.run()
    pub = engine._publisher
    times = []
    for i in range(200):
        t0 = time.perf_counter()
        pub.publish(time.perf_counter())
        times.append(time.perf_counter() - t0)
    times.sort()
    print(f"publish: median {times[100] * 1e6:.0f} µs, p90 {times[180] * 1e6:.0f} µs")
    assert engine.snapshot.seq > 200
