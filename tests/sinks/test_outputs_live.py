"""A mapping made live (router + sinks) against real receivers, and hot reload through it."""

import threading
from pathlib import Path

import pytest

from bridge.errors import MappingError, SinkError
from bridge.mapping.outputs import Outputs
from bridge.runtime.pipeline import parse_hostport
from tests.mapping.conftest import SIGNALS
from tests.peers import JackServer, MidiDump, OscDump, jack_mido_backend

ROOT = Path(__file__).resolve().parents[2]


def test_default_mapping_to_oscdump():
    values = {name: 0.5 for name in SIGNALS} | {"bpm": 120.0, "spectralcentroid": 2000.0}
    with OscDump("udp") as dump:
        with Outputs(ROOT / "mappings" / "default.yaml", signals=SIGNALS,
                     overrides={"osc": ("127.0.0.1", dump.port)}) as out:
            assert out.rate == 60.0
            for _ in range(3):
                out.tick(values)
            lines = dump.wait_for(48)
            stats = out.stats()
        lines = dump.wait_for(64)  # + the idle frame on close
    addresses = [m.address for m in lines[:16]]
    assert addresses == ["/vjbridge/" + s for s in (
        "motion", "weight", "colour", "r", "g", "b", "low", "mid", "high", "rms", "onset", "kick",
        "snare", "beat", "bpm", "spectralcentroid")]
    # the model's colour: one message of 3 floats, its channels r, g, b one float each
    assert all(m.types == ("fff" if m.address == "/vjbridge/colour" else "f") for m in lines)
    got = {m.address: m.args[0] for m in lines[32:48]}
    assert got["/vjbridge/bpm"] == 120.0 and got["/vjbridge/spectralcentroid"] == 2000.0
    assert got["/vjbridge/low"] == 0.5
    assert got["/vjbridge/motion"] == 0.0  # auto-ranged model output, flat so far: 0
    assert stats == {"osc:touchdesigner": {"frames": 3, "sent": 3, "drops": 0, "refused": 0}}
    assert {v for m in lines[48:64] for v in m.args} == {0.0}  # idle values on close


MIXED = """\
rate: 50
osc:
  td: {{port: {port}}}
midi:
  desk: {{port: {midi}}}
routes:
  - {{signal: low, osc: {{address: {address}}}, midi: {{cc: 7}}}}
  - {{signal: kick, midi: {{note: 36, channel: 10, length_ms: 40, velocity: 100}}}}
"""


@pytest.fixture(scope="module")
def jack():
    with JackServer() as server, jack_mido_backend(server):
        yield server


def test_osc_and_midi_routes_and_hot_reload(tmp_path, jack):
    path = tmp_path / "live.yaml"
    with OscDump("udp") as dump, MidiDump(jack) as midi, OscDump("udp") as dump2:
        path.write_text(MIXED.format(port=dump.port, midi=midi.port, address="/low"))
        out = Outputs(path, signals=SIGNALS)
        try:
            out.tick({"low": 1.0, "kick": 1.0})
            out.tick({"low": 1.0, "kick": 0.0})
            out.tick({"low": 0.5, "kick": 0.0})  # note off after 2 ticks (40 ms at 50 Hz)
            assert dump.wait_for(3)[-1].args == (0.5,)
            # routes in mapping order each tick; an unchanged CC is not re-sent
            assert midi.wait_for(4) == [[0xB0, 7, 127], [0x99, 36, 100], [0xB0, 7, 64],
                                        [0x89, 36, 0]]
            # a broken edit: reported, nothing changes, the old mapping keeps sending
            path.write_text(MIXED.format(port=dump.port, midi=midi.port, address="low"))
            problems = out.reload()
            assert problems == ["routes[0].osc.address: 'low' is not an OSC address: start with "
                                "'/', no spaces or any of #*,?[]{}"]
            out.tick({"low": 0.25})
            assert dump.wait_for(4)[-1][1:] == ("/low", "f", (0.25,))
            # an edit naming a MIDI port that does not exist: also refused
            path.write_text(MIXED.format(port=dump.port, midi="nowhere", address="/low"))
            (problem,) = out.reload()
            assert problem.startswith("no MIDI output matches 'nowhere'")
            # a good edit: new address and a new OSC target; the MIDI port is kept open
            midi_sink = out.sinks[("midi", "desk")]
            path.write_text(MIXED.format(port=dump2.port, midi=midi.port, address="/low2"))
            assert out.reload() == []
            assert out.sinks[("midi", "desk")] is midi_sink
            out.tick({"low": 0.75})
            assert dump2.wait_for(1)[0][1:] == ("/low2", "f", (0.75,))
            assert dump.wait_for(5)[-1][1:] == ("/low", "f", (0.0,))  # old target got its idle
        finally:
            out.close()
        events = midi.wait_for(9)
    # 0.25 (old mapping, kept live) -> 32; 0.75 (new mapping) -> 95; close: idle 0, then
    # All Notes Off on the two channels used (1 and 10)
    assert events[4:] == [[0xB0, 7, 32], [0xB0, 7, 95], [0xB0, 7, 0], [0xB0, 123, 0],
                          [0xB9, 123, 0]]


def test_failed_open_closes_what_was_opened(tmp_path, jack):
    path = tmp_path / "m.yaml"
    with OscDump("tcp") as dump:
        text = MIXED.format(port=dump.port, midi="nowhere", address="/low")
        path.write_text(text.replace("td: {port", "td: {protocol: tcp, port"))
        with pytest.raises(SinkError, match="no MIDI output matches 'nowhere'"):
            Outputs(path, signals=SIGNALS)
        # the OSC sink opened first was closed again: its TCP writer thread is gone
        assert not [t for t in threading.enumerate() if t.name == f"osc-tcp-{dump.port}"]


def test_parse_hostport():
    assert parse_hostport("10.0.0.2:9000") == ("10.0.0.2", 9000)
    assert parse_hostport(":9000") == ("127.0.0.1", 9000)
    assert parse_hostport("9000") == ("127.0.0.1", 9000)
    with pytest.raises(MappingError, match="not HOST:PORT"):
        parse_hostport("host:99999")
    assert parse_hostport("[::1]:9000") == ("::1", 9000)
    assert parse_hostport("bühne.local:9000") == ("bühne.local", 9000)
    with pytest.raises(MappingError, match="'desk 2' is not a host name or IP address"):
        parse_hostport("desk 2:9000")


def test_reload_if_changed(tmp_path):
    path = tmp_path / "m.yaml"
    with OscDump("udp") as dump:
        path.write_text(f"osc: {{td: {{port: {dump.port}}}}}\n"
                        "routes: [{signal: low, osc: {address: /a}}]\n")
        with Outputs(path, signals=SIGNALS) as out:
            assert out.reload_if_changed() is None  # unchanged: nothing to do
            path.write_text(path.read_text().replace("/a", "/b") + "\n# edited\n")
            assert out.reload_if_changed() == []
            assert out.reload_if_changed() is None
            # (a size change too, so a coarse file-system clock cannot hide the edit)
            path.write_text(path.read_text().replace("signal: low", "signal: lwo") + "# bad\n")
            assert out.reload_if_changed() == [
                "routes[0].signal: unknown signal 'lwo'; did you mean 'low'?"]
            assert out.reload_if_changed() is None  # reported once, not retried every second
            out.tick({"low": 0.5})
            assert dump.wait_for(1)[0][1:] == ("/b", "f", (0.5,))
