"""The os2l output kind against a real OS2L host stand-in (tests/sinks/os2l_host.py): the live
engine's beats, a mapping's routes through the router, an unreachable host, a host that goes away
and comes back, DNS-SD discovery in a private network namespace, and the section's problems."""

from __future__ import annotations

import json
import logging
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bridge.errors import MappingError, SinkError
from bridge.mapping.outputs import Outputs
from bridge.mapping.validate import load_mapping
from bridge.sinks import KINDS
from tests.mapping.conftest import SIGNALS
from tests.runtime.peers import Bridge, require
from tests.sinks.os2l_host import Os2lHost, drive

ROOT = Path(__file__).resolve().parents[2]

MAPPING = """\
os2l:
  desk: {{host: 127.0.0.1, port: {port}}}
routes:
  - {{signal: beat, os2l: {{event: beat}}}}
  - {{signal: bpm, os2l: {{event: tempo}}, in: [0, 200], out: [0, 200]}}
  - {{signal: onset, os2l: {{event: strength}}}}
  - {{signal: kick, os2l: {{event: button, name: kick, page: drums}}}}
  - {{signal: rms, os2l: {{event: command, id: 3}}, in: [0, 0.3], out: [0, 100]}}
"""


def _beats_ok(beats):
    assert [b["pos"] for b in beats] == list(range(beats[0]["pos"], beats[0]["pos"] + len(beats)))


def test_the_live_engine_sends_beats_buttons_and_commands_to_an_os2l_host(tmp_path):
    """`vjbridge run --demo` (124 BPM groove) with an os2l mapping, in real time."""
    host = Os2lHost()
    path = tmp_path / "os2l.yaml"
    path.write_text(MAPPING.format(port=host.port))
    try:
        bridge = Bridge("run", "--demo", "--no-models", "--mapping", str(path), "--duration", "9")
        rc = bridge.proc.wait(timeout=60)
        bridge.stop()
        time.sleep(0.3)
    finally:
        host.close()
    assert rc == 0, bridge.stderr
    assert "os2l:desk" in bridge.stderr
    assert "dropping" not in bridge.stderr, bridge.stderr
    assert host.problems == [] and host.connections == 1
    beats = host.of("beat")
    assert len(beats) >= 5, beats  # the tracker is confident after ~5 s of the groove
    assert beats[0]["pos"] == 1 and beats[0]["change"] is True
    _beats_ok(beats)
    assert all(abs(b["bpm"] - 124.0) < 2.0 for b in beats), beats
    assert all(not b["change"] for b in beats[1:] if abs(b["bpm"] - beats[0]["bpm"]) < 0.5)
    assert len({b["strength"] for b in beats}) > 1  # the onset route's value, not a constant
    buttons = host.of("btn")
    assert {(b["name"], b["page"]) for b in buttons} == {("kick", "drums")}
    states = [b["state"] for b in buttons]
    assert states.count("on") >= 10  # the groove's kicks
    # sent on change only; at exit the idle value (off) once more
    assert all(a != b for a, b in zip(states[:-1], states[1:-1])) and states[-1] == "off"
    commands = host.of("cmd")
    assert {c["id"] for c in commands} == {3}
    params = [c["param"] for c in commands]
    assert all(a != b for a, b in zip(params, params[1:])) and max(params) > 20
    assert params[-1] == 0  # the idle value at exit


def test_routes_through_the_router_and_a_host_that_goes_away_and_comes_back(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    host = Os2lHost()
    port = host.port
    path = tmp_path / "os2l.yaml"
    path.write_text(MAPPING.format(port=port))
    out = Outputs(path, signals=SIGNALS)
    sink = out.sinks[("os2l", "desk")]
    try:
        assert sink.wait_connected(5)

        def values(tick):  # a beat every 15 ticks at 60 Hz (240 BPM grid, tempo 120)
            return {"beat": 1.0 if tick % 15 == 0 else 0.0, "bpm": 120.0,
                    "onset": 0.25, "kick": 0.0, "rms": 0.15}

        drive(out, values, lambda: len(host.of("beat")) >= 4)
        beats = host.wait_for("beat", 4)
        assert beats[0] == {"evt": "beat", "change": True, "pos": 1, "bpm": 120.0,
                            "strength": 0.25}
        assert beats[1] == {"evt": "beat", "change": False, "pos": 2, "bpm": 120.0,
                            "strength": 0.25}
        assert host.of("cmd") == [{"evt": "cmd", "id": 3, "param": 50.0}]
        assert host.of("btn") == [{"evt": "btn", "name": "kick", "page": "drums",
                                   "state": "off"}]
        host.close()  # the host goes away ...
        drive(out, values, lambda: False, timeout=1.0)
        assert not sink.transport.connected and sink.drops > 0
        lines = [r.getMessage() for r in caplog.records if "os2l" in r.getMessage()]
        assert len(lines) == 1 and "retrying with backoff" in lines[0], lines
        back = Os2lHost(port=port)  # ... and comes back on its port
        try:
            drive(out, lambda t: values(t) | {"bpm": 128.0},
                  lambda: len(back.of("beat")) >= 2, timeout=15)
            again = back.wait_for("beat", 2)
            assert back.connections == 1 and back.problems == []
            assert again[0]["bpm"] == 128.0 and again[0]["change"] is True
            assert again[0]["pos"] > beats[-1]["pos"]
            _beats_ok(again)
        finally:
            out.close()
            time.sleep(0.2)
            back.close()
        assert back.of("btn")[-1]["state"] == "off" and back.of("cmd")[-1]["param"] == 0
    finally:
        out.close()
        host.close()


def test_an_unreachable_host_is_one_warning_and_the_ticks_never_wait(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    closed = Os2lHost()
    port = closed.port
    closed.close()  # nothing listens there now
    path = tmp_path / "os2l.yaml"
    path.write_text(MAPPING.format(port=port))
    out = Outputs(path, signals=SIGNALS)
    try:
        slowest = 0.0
        end = time.monotonic() + 2.0
        tick = 0
        while time.monotonic() < end:
            t0 = time.perf_counter()
            out.tick({"beat": float(tick % 10 == 0), "bpm": 120.0, "rms": tick % 30 / 100})
            slowest = max(slowest, time.perf_counter() - t0)
            tick += 1
            time.sleep(1 / 60)
        lines = [r.getMessage() for r in caplog.records]
        assert len(lines) == 1, lines
        assert f"127.0.0.1:{port}" in lines[0] and "cannot connect" in lines[0]
        assert out.sinks[("os2l", "desk")].drops > 0
        assert slowest < 0.05, slowest  # generous: a connect attempt would take 1 s
    finally:
        out.close()


def test_without_zeroconf_discovery_says_how_to_fix_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "zeroconf", None)  # what `import zeroconf` sees uninstalled
    with pytest.raises(SinkError) as err:
        KINDS["os2l"].open("default", {"host": None, "port": 9996, "service": None})
    assert "pip install zeroconf" in str(err.value) and "set host" in str(err.value)


_DISCOVERY_PROBE = r"""
import json, logging, socket, time
from zeroconf import ServiceInfo, Zeroconf
from bridge.mapping.outputs import Outputs
from tests.mapping.conftest import SIGNALS
from tests.sinks.os2l_host import Os2lHost, drive

def advertise(zc, name, port):
    info = ServiceInfo("_os2l._tcp.local.", f"{name}._os2l._tcp.local.", port=port,
                       addresses=[socket.inet_aton("127.0.0.1")], server="desk.local.")
    zc.register_service(info)
    return info

path = "/tmp/os2l-discovery.yaml"
open(path, "w").write(
    "routes:\n"
    "  - {signal: beat, os2l: {event: beat}}\n"
    "  - {signal: bpm, os2l: {event: tempo}, in: [0, 200], out: [0, 200]}\n")
values = lambda t: {"beat": 1.0 if t % 10 == 0 else 0.0, "bpm": 126.0}
open(path, "a").write("os2l:\n  default: {service: qlc}\n")
lines = []
handler = logging.Handler()
handler.emit = lambda record: lines.append(record.getMessage())
logging.getLogger("bridge").addHandler(handler)
out = Outputs(path, signals=SIGNALS)  # nothing advertised yet: one line, the ticks go on
sink = out.sinks[("os2l", "default")]
nobody = drive(out, values, lambda: False, timeout=1.5)
waiting = list(lines)
other_host = Os2lHost("127.0.0.1")  # another OS2L host: `service` picks ours
host = Os2lHost("127.0.0.1")
zc = Zeroconf(interfaces=["127.0.0.1"])
other = advertise(zc, "SoundSwitch on booth", other_host.port)
ours = advertise(zc, "QLC+ on desk", host.port)
t0 = time.monotonic()
drive(out, values, lambda: len(host.of("beat")) >= 3, timeout=20)
first = {"beats": host.of("beat"), "found_s": time.monotonic() - t0, "waiting": waiting,
         "nobody_ticks": nobody,
         "describe": sink.describe(), "other": len(other_host.messages)}
# the host goes away (goodbye) and comes back on another port
zc.unregister_service(ours)
host.close()
drive(out, values, lambda: False, timeout=1.0)
back = Os2lHost("127.0.0.1")
advertise(zc, "QLC+ on desk", back.port)
drive(out, values, lambda: len(back.of("beat")) >= 3, timeout=20)
second = {"beats": back.of("beat"), "port_changed": back.port != host.port,
          "problems": host.problems + back.problems}
out.close()
zc.close()
other_host.close()
back.close()
print(json.dumps({"first": first, "second": second}))
"""


def test_dns_sd_discovery_finds_the_host_and_finds_it_again_when_it_moves():
    """A real zeroconf registration of _os2l._tcp in a private network namespace (multicast on
    its loopback): the sink with no host finds the one named like `service`, connects, sends;
    the host leaves and comes back on another port: found again, beats resume."""
    require("unshare", "util-linux")
    require("ip", "iproute2")
    setup = ("ip link set lo up; ip link set lo multicast on; "
             "ip route add 224.0.0.0/4 dev lo")
    out = subprocess.run(["unshare", "-n", "sh", "-c", f'{setup}; exec "$0" -c "$1"',
                          sys.executable, _DISCOVERY_PROBE],
                         capture_output=True, text=True, timeout=120, cwd=str(ROOT),
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    first, second = doc["first"], doc["second"]
    assert first["nobody_ticks"] > 45  # 1.5 s of 60 Hz ticks while nothing is advertised
    assert first["waiting"] == [
        "os2l target 'default': no OS2L host named like 'qlc' advertising _os2l._tcp.local (DNS-SD; "
        "or set the target's host) found yet; retrying with backoff up to 2 s (one line per "
        "outage)"], first["waiting"]
    assert len(first["beats"]) >= 3 and first["other"] == 0, doc
    assert first["beats"][0]["bpm"] == 126.0 and first["beats"][0]["change"] is True
    assert "DNS-SD" in first["describe"] and "127.0.0.1" in first["describe"]
    assert second["port_changed"] and len(second["beats"]) >= 3 and second["problems"] == []
    assert second["beats"][0]["pos"] > first["beats"][-1]["pos"]


BAD = """\
os2l:
  desk: {hots: 127.0.0.1}
routes:
  - {signal: beat, os2l: {evnt: beat}}
  - {signal: bpm, os2l: {event: tempo}}
  - {signal: kick, os2l: {event: buton, name: kick}}
  - {signal: kick, os2l: {event: button}}
  - {signal: rms, os2l: {event: command, name: x}, out: [0, 255]}
  - {signal: onset, os2l: {event: strength, target: dsk}}
  - {signal: geq, os2l: {event: beat, threshold: 2}}
"""


def test_section_problems_have_key_paths_and_did_you_mean(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    with pytest.raises(MappingError) as err:
        load_mapping(path, signals=SIGNALS | {"geq": "spectrum"})
    problems = err.value.problems
    assert "os2l.desk.hots: unknown key; did you mean 'host'?" in problems
    assert "routes[0].os2l.evnt: unknown key; did you mean 'event'?" in problems
    assert any(p.startswith("routes[1].out: event tempo sends BPM") and "out: [0, 200]" in p
               for p in problems)
    assert any(p.startswith("routes[2].os2l.event: 'buton' is not one of") and
               "did you mean 'button'?" in p for p in problems)
    assert any(p.startswith("routes[3].os2l.name: event button needs") for p in problems)
    assert ("routes[4].os2l.name: only event button reads it; remove it, or set event: button"
            in problems)
    assert any(p.startswith("routes[4].os2l.id: event command needs") for p in problems)
    assert ("routes[4].out: OS2L reads command as 0..100; got [0, 255]; set out within [0, 100]"
            in problems)
    assert "routes[5].os2l.target: unknown os2l target 'dsk'; did you mean 'desk'?" in problems
    assert any(p.startswith("routes[6].os2l.event: beat takes one value; 'geq' is a spectrum")
               for p in problems)


def test_mapping_wide_problems(tmp_path):
    path = tmp_path / "riders.yaml"
    path.write_text("routes:\n"
                    "  - {signal: bpm, os2l: {event: tempo}, in: [0, 200], out: [0, 200]}\n"
                    "  - {signal: kick, os2l: {event: button, name: k}}\n"
                    "  - {signal: snare, os2l: {event: button, name: k}}\n")
    with pytest.raises(MappingError) as err:
        load_mapping(path, signals=SIGNALS)
    assert err.value.problems == [
        "routes[2].os2l.event: button 'k' of os2l target 'default' is already sent by "
        "routes[1]; route one signal to it",
        "routes[0].os2l.event: tempo only rides on beat messages, and os2l target 'default' has "
        "no beat route; add {signal: beat, os2l: {event: beat}}"]


@pytest.fixture(scope="module")
def jack():
    from tests.peers import JackServer, jack_mido_backend

    with JackServer() as server, jack_mido_backend(server):
        yield server


def _qlc_osc_read(datagram: bytes) -> tuple[str, int]:
    """What QLC+'s OSC input makes of one datagram (plugins/osc: the path is everything before
    the first comma, a float f becomes the value 255 * f): its path and 0..255 value."""
    comma = datagram.index(b",")
    path = datagram[:comma].rstrip(b"\0").decode()
    assert datagram[comma:comma + 4] == b",f\0\0", datagram
    (f,) = struct.unpack(">f", datagram[comma + 4:comma + 8])
    return path, int(255.0 * f)


def test_the_qlcplus_preset_reaches_osc_midi_and_os2l_inputs(tmp_path, jack):
    """mappings/qlcplus.yaml with its ports pointed at stand-ins of QLC+'s three inputs: a UDP
    socket read the way QLC+'s OSC plugin reads it (one message per datagram: no bundles),
    jack_midi_dump for the MIDI input, the OS2L host for its OS2L input."""
    from tests.peers import MidiDump

    raw = yaml.safe_load((ROOT / "mappings" / "qlcplus.yaml").read_text())
    assert raw["osc"]["qlc"]["port"] == 7700 and raw["os2l"]["qlc"]["port"] == 9996
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(2.0)
    host = Os2lHost()
    with MidiDump(jack) as midi:
        raw["osc"]["qlc"]["port"] = rx.getsockname()[1]
        raw["os2l"]["qlc"]["port"] = host.port
        raw["midi"]["qlc"]["port"] = midi.port
        path = tmp_path / "qlcplus.yaml"
        path.write_text(yaml.safe_dump(raw))
        out = Outputs(path, signals=SIGNALS)
        try:
            assert out.sinks[("os2l", "qlc")].wait_connected(5)
            for tick in range(30):
                hit = 1.0 if tick in (0, 15) else 0.0
                out.tick({"low": 0.6, "mid": 0.5, "high": 0.4, "rms": 0.15, "motion": 0.5,
                          "r": 0.2, "g": 0.4, "b": 0.8, "kick": hit, "snare": 0.0,
                          "onset": 0.1, "beat": hit, "bpm": 124.0})
                time.sleep(1 / 60)
            beats = host.wait_for("beat", 2)
            events = midi.wait_for(3)
        finally:
            out.close()
            time.sleep(0.2)
            host.close()
    datagrams = []
    rx.settimeout(0.5)
    try:
        while True:
            datagrams.append(rx.recv(1500))
    except socket.timeout:
        pass
    rx.close()
    assert raw["osc"]["qlc"]["announce"] is False  # no /vjbridge/_info among QLC+'s channels
    assert not any(d.startswith(b"#bundle") for d in datagrams)
    assert len(datagrams) == 8 * 30 + 8  # every address every tick, then the idle values
    seen = dict(_qlc_osc_read(d) for d in datagrams[:8])  # the first tick's values
    assert set(seen) == {f"/vjbridge/{n}" for n in ("low", "mid", "high", "rms", "motion", "r",
                                                      "g", "b")}
    assert seen["/vjbridge/low"] == int(255 * 0.6) and seen["/vjbridge/rms"] == 127
    # kick as note 36 velocity 127 (QLC+: 254), the tempo as CC 20: 124 BPM of 200 -> 79
    assert [0x90, 36, 127] in events and [0xB0, 20, 79] in events
    assert beats[0] == {"evt": "beat", "change": True, "pos": 1, "bpm": 124.0,
                        "strength": 0.6} and host.problems == []


def test_without_a_tempo_route_a_beat_carries_the_tempo_of_its_spacing(tmp_path):
    host = Os2lHost()
    path = tmp_path / "beats.yaml"
    path.write_text(f"os2l: {{desk: {{host: 127.0.0.1, port: {host.port}}}}}\n"
                    "routes: [{signal: beat, os2l: {event: beat}}]\n")
    out = Outputs(path, signals=SIGNALS)
    try:
        assert out.sinks[("os2l", "desk")].wait_connected(5)
        for _ in range(4):  # a beat every 0.5 s: 120 BPM
            out.tick({"beat": 1.0})
            out.tick({"beat": 0.0})
            time.sleep(0.5)
        beats = host.wait_for("beat", 4)
    finally:
        out.close()
        host.close()
    assert beats[0]["bpm"] == 0.0 and beats[0]["change"] is True  # no spacing yet
    assert all(100.0 < b["bpm"] < 125.0 for b in beats[1:]), beats  # generous: sleep jitter
    assert [b["strength"] for b in beats] == [1.0] * 4 and host.problems == []
