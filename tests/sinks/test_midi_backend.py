"""MIDI opens where the desk is: the backend chosen automatically, ``--midi-backend``, unique virtual
port names, one-line errors, and ``vjbridge devices`` without rtmidi's stderr noise.

These machines have JACK and no ALSA sequencer (no /dev/snd/seq): exactly the case that failed
before (mido opened ALSA, the first compiled API). Every test uses a real, uniquely named JACK
server; ``jack_lsp`` and ``jack_midi_dump`` (not our code) say what exists and what arrived. No
test here sets mido's backend: the sink must find JACK by itself.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.errors import SinkError
from bridge.sinks import MidiCC, MidiSink
from bridge.sinks import midi_backend
from bridge.sinks.midi import unique_name
from tests.peers import JackServer, MidiDump, jack_default_server, poll

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def jack():
    with JackServer() as server, jack_default_server(server):
        yield server


@pytest.fixture
def dump(jack, request):
    with MidiDump(jack, client=f"bk{abs(hash(request.node.name)) % 10**6}") as d:
        yield d


def test_this_machine_is_the_jack_only_case():
    """The premise of the tests below (real-peers.md): no ALSA sequencer, JACK compiled in."""
    assert not os.path.exists("/dev/snd/seq"), "an ALSA sequencer exists: not the JACK-only case"
    assert midi_backend.compiled()[:2] == ("alsa", "jack")
    assert midi_backend.candidates("auto", "linux") == ("alsa", "jack")


def test_auto_opens_a_jack_virtual_port_that_jack_lsp_shows(jack, dump, capfd):
    sink = MidiSink("desk")  # backend auto, virtual port
    try:
        assert sink.backend == "jack"
        assert sink.describe() == "virtual port 'vjbridge' on JACK"
        poll(lambda: "vjbridge:vjbridge" in jack.ports(), what="vjbridge:vjbridge in jack_lsp")
        jack.connect("vjbridge:vjbridge", dump.port)
        sink.send([MidiCC(2, 7, 99)])
        assert dump.wait_for(1) == [[0xB2, 7, 99]]
    finally:
        sink.close()
    err = capfd.readouterr().err
    assert "ALSA lib" not in err and "MidiOutAlsa" not in err, err  # the ALSA probe is silent


def test_a_second_sink_gets_a_distinct_name(jack, dump):
    first = MidiSink("a")
    try:
        second = MidiSink("b")
        try:
            assert (first.port_name, second.port_name) == ("vjbridge", "vjbridge-2")
            ports = poll(lambda: {"vjbridge:vjbridge", "vjbridge-2:vjbridge-2"}
                         <= set(jack.ports()), what="both virtual ports in jack_lsp")
            assert ports
            jack.connect("vjbridge:vjbridge", dump.port)
            jack.connect("vjbridge-2:vjbridge-2", dump.port)
            first.send([MidiCC(0, 1, 1)])
            assert dump.wait_for(1) == [[0xB0, 1, 1]]
            second.send([MidiCC(0, 1, 2)])
            assert dump.wait_for(2) == [[0xB0, 1, 1], [0xB0, 1, 2]]
        finally:
            second.close()
    finally:
        first.close()


def test_unique_name_counts_up_past_taken_ones():
    names = ["vjbridge:vjbridge", "vjbridge-2:vjbridge-2 129:0", "other:vjbridge-3"]
    assert unique_name("vjbridge", names) == "vjbridge-3"  # another client's *port* is not taken
    assert unique_name("vjbridge", ["vjbridgeX:in"]) == "vjbridge"
    assert unique_name("desk", ["desk"]) == "desk-2"  # CoreMIDI lists plain names


def test_named_backend_jack_opens_a_named_port(jack, dump):
    with MidiSink("desk", port=dump.port, backend="jack") as sink:
        assert sink.describe() == f"port {dump.port!r} on JACK"


def test_a_bad_backend_name_is_one_line():
    with pytest.raises(SinkError) as info:
        MidiSink("desk", backend="jak")
    assert str(info.value) == ("unknown MIDI backend 'jak' (did you mean 'jack'?); choose one of "
                               "auto, alsa, jack, coremidi, winmm")


def test_a_backend_this_rtmidi_lacks_is_one_line():
    with pytest.raises(SinkError) as info:
        MidiSink("desk", backend="coremidi")
    msg = str(info.value)
    assert msg == ("MIDI backend coremidi is not in this python-rtmidi (it has: ALSA, JACK); use "
                   "--midi-backend auto")


def test_alsa_without_a_sequencer_says_how_to_fix_it(capfd):
    with pytest.raises(SinkError) as info:
        MidiSink("desk", backend="alsa")
    assert str(info.value) == (
        "cannot open MIDI virtual port 'vjbridge': no MIDI system answered (ALSA: no ALSA "
        "sequencer (/dev/snd/seq is missing)): load the ALSA sequencer (modprobe snd-seq), or "
        "choose one with --midi-backend")
    assert capfd.readouterr().err == ""


def test_nothing_answers_names_every_backend_tried_in_one_line(jack, capfd):
    old = os.environ["JACK_DEFAULT_SERVER"]
    os.environ["JACK_DEFAULT_SERVER"] = "vjb-no-such-server"
    try:
        with pytest.raises(SinkError) as info:
            MidiSink("desk")
    finally:
        os.environ["JACK_DEFAULT_SERVER"] = old
    assert str(info.value) == (
        "cannot open MIDI virtual port 'vjbridge': no MIDI system answered (ALSA: no ALSA "
        "sequencer (/dev/snd/seq is missing); JACK: no JACK server running): load the ALSA "
        "sequencer (modprobe snd-seq) or start JACK (jackd, QjackCtl or PipeWire's JACK), or "
        "choose one with --midi-backend")
    assert capfd.readouterr().err == ""  # libjack's "Cannot connect to server socket" kept quiet


def _vjbridge(args, jack, **kw):
    env = dict(jack.env, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "bridge.cli", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120, **kw)


def test_devices_lists_midi_outputs_per_backend_without_stderr_noise(jack, dump):
    done = _vjbridge(["devices"], jack)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no MidiInAlsa / ALSA lib / libjack lines
    midi = done.stdout.split("MIDI outputs", 1)[1].splitlines()[1:]
    assert midi[0] == "  ALSA: not available (no ALSA sequencer (/dev/snd/seq is missing))"
    assert f"  JACK: {dump.port}" in midi
    only = _vjbridge(["devices", "--midi-backend", "jack"], jack)
    assert only.stderr == "" and "ALSA" not in only.stdout.split("MIDI outputs", 1)[1]
    assert f"  JACK: {dump.port}" in only.stdout


def test_run_with_a_bad_midi_backend_is_one_line(jack):
    done = _vjbridge(["run", "--demo", "--midi-backend", "jak"], jack)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--midi-backend: invalid choice: 'jak'" in lines[0], done.stderr


def test_run_says_which_backend_it_uses_and_the_run_config_chooses_one(jack, dump, tmp_path):
    mapping = tmp_path / "m.yaml"
    mapping.write_text("midi: {desk: {}}\nroutes:\n  - {signal: low, midi: {cc: 20}}\n")
    config = tmp_path / "config.yaml"
    config.write_text("outputs: {midi_backend: alsa}\n")
    args = ["run", "--demo", "--no-models", "--mapping", str(mapping), "--config", str(config),
            "--midi", dump.port, "--duration", "1", "--no-realtime"]
    failed = _vjbridge(args, jack)  # the file's alsa: only ALSA is tried, and it is absent
    assert failed.returncode == 1
    assert "(ALSA: no ALSA sequencer (/dev/snd/seq is missing)): load the ALSA sequencer" \
        in failed.stderr and "JACK" not in failed.stderr, failed.stderr
    done = _vjbridge([*args, "--midi-backend", "jack"], jack)  # the command line wins
    assert done.returncode == 0, done.stderr
    assert f"midi:desk = port {dump.port!r} on JACK" in done.stderr, done.stderr
    assert dump.wait_for(1)[0][0] == 0xB0  # the CC route reached jack_midi_dump


def test_an_unknown_named_port_lists_what_each_backend_has(jack, dump):
    with pytest.raises(SinkError) as info:
        MidiSink("desk", port="grandMA3")
    assert str(info.value) == (
        f"no MIDI output matches 'grandMA3'; available: {dump.port!r} (JACK) (`vjbridge devices` "
        "lists them; leave `port` null for a virtual port); ALSA did not answer (no ALSA "
        "sequencer (/dev/snd/seq is missing))")


def test_each_platform_tries_what_its_rtmidi_has():
    assert midi_backend.candidates("auto", "win32", built=("winmm",)) == ("winmm",)
    assert midi_backend.candidates("auto", "darwin", built=("coremidi",)) == ("coremidi",)
    assert midi_backend.candidates("auto", "darwin", built=("coremidi", "jack")) == (
        "coremidi", "jack")
    assert midi_backend.candidates("jack", "linux", built=("alsa", "jack")) == ("jack",)
    with pytest.raises(SinkError, match="has no MIDI backend for this system"):
        midi_backend.candidates("auto", "win32", built=("alsa", "jack"))


def test_quiet_drops_the_midi_systems_noise_and_passes_on_the_rest(capfd):
    with midi_backend.quiet():
        os.write(2, b"ALSA lib seq_hw.c:466:(snd_seq_hw_open) open /dev/snd/seq failed\n")
        os.write(2, b"Cannot connect to server socket err = No such file or directory\n")
        os.write(2, b"a log line from another thread\n")
    assert capfd.readouterr().err == "a log line from another thread\n"
