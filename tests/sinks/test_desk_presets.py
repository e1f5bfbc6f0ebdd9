"""The shipped desk presets as a desk receives them: ``vjbridge run --demo --mapping NAME`` with
the preset's own transport, framing and addresses, to an independent receiver standing in for
the console (liblo's oscdump over TCP with OSC 1.0 length framing for ETC Eos; a raw UDP socket
decoded by python-osc for grandMA3, which takes no bundles; jack_midi_dump for the MIDI notes).
Only the host and port change (``--osc 127.0.0.1:PORT``, ``--midi PORT``), as a user does on
the day."""

from __future__ import annotations

import os
import re
import socket
import threading
from pathlib import Path

from pythonosc.osc_message import OscMessage

from bridge.mapping.validate import load_mapping
from tests.peers import JackServer, MidiDump, poll
from tests.peers.osc import OscDump
from tests.runtime.peers import Bridge

ROOT = Path(__file__).resolve().parents[2]
GUIDES = ROOT / "mappings" / "guides"


def preset(name: str):
    return load_mapping(ROOT / "mappings" / f"{name}.yaml")


def test_each_desk_preset_has_a_guide_naming_its_file_and_every_address():
    for name in ("eos", "grandma3", "magicq", "qlcplus"):
        guide = (GUIDES / f"{name}.md").read_text()
        assert f"mappings/{name}.yaml" in guide
        header = (ROOT / "mappings" / f"{name}.yaml").read_text()
        assert f"mappings/guides/{name}.md" in header
    eos = (GUIDES / "eos.md").read_text()
    for route in preset("eos").routes:
        address = route["osc"]["address"]
        assert address.rsplit("/", 1)[0] in eos, address
    qlcplus = (GUIDES / "qlcplus.md").read_text()
    for route in preset("qlcplus").routes:
        if route.get("osc"):
            assert route["osc"]["address"].rsplit("/", 1)[1] in qlcplus, route["osc"]["address"]
        elif route.get("midi"):
            number = route["midi"]["note"] if route["midi"]["note"] is not None \
                else route["midi"]["cc"]
            assert str(number) in qlcplus, route["midi"]


def test_eos_preset_is_osc_1_0_over_tcp_3032_without_bundles():
    m = preset("eos")
    (cfg,) = m.targets["osc"].values()
    assert (cfg["protocol"], cfg["port"], cfg["framing"], cfg["bundle"]) == \
        ("tcp", 3032, "length", False)
    assert all(r["osc"]["address"].startswith("/eos/") for r in m.routes)


def test_eos_receives_the_subs_and_the_colour_over_tcp_length_framing():
    with OscDump("tcp") as console:
        bridge = Bridge("run", "--demo", "--mapping", "eos", "--osc", f"127.0.0.1:{console.port}")
        try:
            console.wait_for(400, timeout=30)
        finally:
            rc = bridge.stop()
        got = console.messages()
    assert rc == 0, bridge.stderr
    by_address: dict[str, list[float]] = {}
    for line in got:
        assert line.types == "f", line
        by_address.setdefault(line.address, []).append(line.args[0])
    want = {r["osc"]["address"] for r in preset("eos").routes}
    assert want <= set(by_address), sorted(want - set(by_address))
    for address, values in by_address.items():
        hi = 100.0 if "/param/" in address else 1.0
        assert all(0.0 <= v <= hi for v in values), (address, min(values), max(values))
    assert len(set(by_address["/eos/sub/1"])) > 10  # the bass sub moves with the music
    assert max(by_address["/eos/sub/5"]) > 0.5  # kicks flash sub 5


def _collect(sock: socket.socket, packets: list, stop: threading.Event) -> None:
    sock.settimeout(0.1)
    while not stop.is_set():
        try:
            packets.append(sock.recv(65536))
        except socket.timeout:
            continue


def test_grandma3_gets_plain_int_fader_messages_and_beat_notes():
    m = preset("grandma3")
    fader = re.compile(r"^/Page\d+/Fader\d+$")
    osc_routes = [r for r in m.routes if r.get("osc")]
    assert all(fader.match(r["osc"]["address"]) and r["osc"]["type"] == "int"
               and tuple(r["out"]) == (0, 100) for r in osc_routes)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    packets: list[bytes] = []
    stop = threading.Event()
    reader = threading.Thread(target=_collect, args=(rx, packets, stop), daemon=True)
    reader.start()
    with JackServer() as jack, MidiDump(jack, client="console") as midi:
        env = dict(os.environ, JACK_DEFAULT_SERVER=jack.name)
        bridge = Bridge("run", "--demo", "--mapping", "grandma3", "--osc",
                        f"127.0.0.1:{rx.getsockname()[1]}", "--midi", midi.port, env=env)
        try:
            # kicks come at once; the first beat once the tempo tracker has one (3-6 s of music)
            poll(lambda: [0x90, 60, 127] in midi.events(), 40, what="a beat note at the console")
        finally:
            rc = bridge.stop()
            stop.set()
            reader.join(5)
            rx.close()
        events = midi.events()
    assert rc == 0, bridge.stderr
    assert packets and not any(p.startswith(b"#bundle") for p in packets)  # grandMA3 takes none
    faders: dict[str, list[int]] = {}
    for p in packets:
        msg = OscMessage(p)
        assert len(msg.params) == 1 and isinstance(msg.params[0], int), (msg.address, msg.params)
        faders.setdefault(msg.address, []).append(msg.params[0])
    assert set(faders) == {r["osc"]["address"] for r in osc_routes}
    assert all(0 <= v <= 100 for values in faders.values() for v in values)
    assert max(faders["/Page1/Fader205"]) > 50  # kick flashes
    notes_on = {(e[0], e[1]) for e in events if len(e) == 3 and e[0] == 0x90 and e[2] > 0}
    assert (0x90, 60) in notes_on and (0x90, 36) in notes_on, events[:20]


def test_magicq_gets_channel_1_ccs_and_notes_at_a_real_midi_input():
    with JackServer() as jack, MidiDump(jack, client="magicq") as midi:
        env = dict(os.environ, JACK_DEFAULT_SERVER=jack.name)
        bridge = Bridge("run", "--demo", "--mapping", "magicq", "--midi", midi.port,
                        "--midi-backend", "jack", env=env)
        try:
            poll(lambda: [0x90, 60, 127] in midi.events(), 40, what="a beat note at the console")
        finally:
            rc = bridge.stop()
        events = midi.events()
    assert rc == 0, bridge.stderr
    ccs = {e[1] for e in events if len(e) == 3 and e[0] == 0xB0}
    assert ccs == {1, 2, 3, 4, 5, 6, 123}, sorted(ccs)  # 123: All Notes Off on exit
    notes = {e[1] for e in events if len(e) == 3 and e[0] == 0x90 and e[2] == 127}
    assert {36, 60} <= notes <= {36, 38, 60}, sorted(notes)
    assert all(e[0] in (0x80, 0x90, 0xB0) for e in events if len(e) == 3)  # channel 1 only
    # the beat clock: Start once the tracker has a tempo, clocks, Stop on exit
    singles = [e[0] for e in events if len(e) == 1]
    assert 0xFA in singles and singles[-1] == 0xFC and singles.count(0xF8) >= 24, singles[:30]
