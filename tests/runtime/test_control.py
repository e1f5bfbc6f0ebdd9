"""The control port: validation from the declarations, the signal setters, the untrusted mapping
reader, the port itself in-process (acks, refusals, fuzz), and a real ``vjbridge run --control``
driven by liblo's ``oscsend`` and python-osc, its effects read back from the OSC stream."""

from __future__ import annotations

import math
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bridge.errors import ConfigError, ControlError, SinkError
from bridge.runtime import controls
from bridge.runtime.control import (MAX_PACKET, MAX_PENDING, ControlPort, encode_ack,
                                    parse_control_target)
from bridge.runtime.control_targets import MAX_MAPPING_BYTES, read_mapping
from bridge.runtime.controls import BY_ADDRESS, CONTROLS, check
from tests.runtime.control_peers import ControlClient, StreamReceiver
from tests.runtime.peers import (VJBRIDGE, Bridge, free_tcp_port, free_udp_port, require,
                                 wait_health)

ROOT = Path(__file__).resolve().parents[2]


# ---- the declarations ------------------------------------------------------------------------
def test_the_table_holds_exactly_the_protocol_addresses():
    expected = {f"/vjbridge/control/{n}" for n in
                ("gain/low", "gain/mid", "gain/high", "threshold/kick", "threshold/snare",
                 "band/kick", "band/snare", "smoothing", "rate", "mapping", "ping", "stop")}
    assert set(BY_ADDRESS) == expected
    assert controls.ACK_ADDRESS == "/vjbridge/_ack"


def _inside(arg):
    return (arg.lo + arg.hi) / 2


@pytest.mark.parametrize("control", CONTROLS, ids=lambda c: c.name)
def test_every_control_accepts_its_range_and_refuses_outside_it(control):
    if not control.args:
        assert check(control.address, []).problem is None
        assert "takes no arguments" in check(control.address, [1.0]).problem
        return
    good = ["/tmp/x.yaml" if a.kind == "s" else _inside(a) for a in control.args]
    if control.action[0] == "set_band":
        good = [control.args[0].lo, control.args[1].hi]  # the extremes are inside
    ok = check(control.address, good)
    assert ok.problem is None and ok.control is control and len(ok.values) == len(good)
    # one argument too few / too many: the usage names every argument
    for args in (good[:-1], good + [1.0]):
        problem = check(control.address, args).problem
        assert f"got {len(args)} argument" in problem and control.usage() in problem
    for i, arg in enumerate(control.args):
        def with_(value):
            return check(control.address, good[:i] + [value] + good[i + 1:]).problem
        if arg.kind == "s":
            assert "must be a string, got a float" in with_(1.0)
            assert "must not be empty" in with_("  ")
            assert "characters long" in with_("x" * (controls.MAX_STRING + 1))
            continue
        assert with_(int(arg.hi)) is None or control.action[0] == "set_band"  # ints are numbers
        for bad, words in ((arg.lo - 0.01, "out of range"), (arg.hi + 0.01, "out of range"),
                           (math.nan, "finite"), (math.inf, "finite"), (-math.inf, "finite"),
                           ("4", "must be a number, got a string"), (True, "got a boolean"),
                           (b"\x01", "got a blob"), (None, "got nil"), (2 ** 62, "out of range"),
                           (2 ** 70, "out of range")):
            problem = with_(bad)
            assert problem is not None and words in problem, (bad, problem)
            assert problem.startswith(arg.name)


def test_band_edges_must_be_ordered():
    assert "lo must be below hi" in check("/vjbridge/control/band/kick", [200.0, 100.0]).problem
    assert "lo must be below hi" in check("/vjbridge/control/band/snare", [300.0, 300.0]).problem


@pytest.mark.parametrize("address, suggestion", [
    ("/vjbridge/control/gain/lwo", "/vjbridge/control/gain/low"),
    ("/vjbridge/control/treshold/kick", "/vjbridge/control/threshold/kick"),
    ("/vjbridge/control/smooth", "/vjbridge/control/smoothing"),
    ("/vjbridge/gain/low", "/vjbridge/control/gain/low"),
])
def test_unknown_addresses_suggest_the_nearest_control(address, suggestion):
    assert check(address, [1.0]).problem == f"unknown control; did you mean {suggestion}?"


def test_unrelated_addresses_are_told_the_prefix_or_the_list():
    assert "they start with /vjbridge/control/" in check("/low", []).problem
    assert "the controls are /vjbridge/control/gain/low" in check(
        "/vjbridge/control/xyzzy", []).problem
    assert "x" * 100 not in check("/" + "x" * 5000, []).problem  # a huge address is cut


def test_readme_section_is_generated_from_the_table():
    text = (ROOT / "README.md").read_text()
    begin, end = "<!-- control:begin", "<!-- control:end -->"
    section = text[text.index(begin):text.index(end)]
    assert controls.reference_markdown() in section
    help_ = subprocess.run([*VJBRIDGE, "run", "--help"], capture_output=True, text=True,
                           cwd=ROOT).stdout
    for c in CONTROLS:
        assert c.name in help_


def test_the_table_loads_by_path_without_the_bridge_package():
    """What the TouchDesigner component's tests do: the file alone, standard library only."""
    code = ("import importlib.util, sys;"
            "s = importlib.util.spec_from_file_location('c', sys.argv[1]);"
            "m = importlib.util.module_from_spec(s); sys.modules['c'] = m; s.loader.exec_module(m);"
            "assert 'numpy' not in sys.modules and 'bridge' not in sys.modules;"
            "print(len(m.CONTROLS))")
    out = subprocess.run([sys.executable, "-I", "-c", code,
                          str(ROOT / "bridge/runtime/controls.py")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(len(CONTROLS))


# ---- the setters -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_frames():
    from bridge import FeatureExtractor
    from bridge.audio.demo import DemoMusic
    from bridge.runtime.engine import LIVE_SPEC

    y = DemoMusic(LIVE_SPEC.sample_rate).read(8 * LIVE_SPEC.sample_rate)
    return FeatureExtractor(LIVE_SPEC).process(y)


def _classic():
    from bridge.runtime.engine import LIVE_SPEC
    from bridge.signals import ClassicSignals

    return ClassicSignals(LIVE_SPEC)


def _stage(signals, cls):
    return next(s for s in signals.stages if isinstance(s, cls))


def test_gain_multiplies_the_level_before_the_soft_clip(demo_frames):
    from bridge.signals.bands import BandLevels

    ref = _classic()
    base = ref.as_dict(ref.process(demo_frames))
    live = _classic()
    bands = _stage(live, BandLevels)
    bands.set_gain("low", 3.0)
    bands.set_gain("low", 1.0)  # back to the default: bit for bit as never touched
    np.testing.assert_array_equal(live.process(demo_frames), _classic().process(demo_frames))
    live.reset()
    bands.set_gain("low", 0.0)
    bands.set_gain("mid", 2.0)
    got = live.as_dict(live.process(demo_frames))
    assert np.all(got["low"] == 0.0)
    np.testing.assert_allclose(got["mid"], np.tanh(2.0 * np.arctanh(base["mid"])), atol=1e-12)
    np.testing.assert_array_equal(got["high"], base["high"])
    np.testing.assert_array_equal(got["kick"], base["kick"])  # the triggers do not see gains


def test_release_changes_only_how_fast_the_bands_fall(demo_frames):
    from bridge.signals.bands import BandLevels

    ref, slow = _classic(), _classic()
    _stage(slow, BandLevels).set_release(2.0)
    a, b = ref.as_dict(ref.process(demo_frames)), slow.as_dict(slow.process(demo_frames))
    assert np.mean(np.abs(np.diff(b["low"]))) < 0.5 * np.mean(np.abs(np.diff(a["low"])))
    np.testing.assert_array_equal(a["kick"], b["kick"])


def test_threshold_of_40_db_silences_the_demo_kicks(demo_frames):
    from bridge.signals.triggers import OnsetTriggers

    ref, strict = _classic(), _classic()
    _stage(strict, OnsetTriggers).set_min_rise("kick", 40.0)
    a, b = ref.as_dict(ref.process(demo_frames)), strict.as_dict(strict.process(demo_frames))
    assert a["kick"].sum() >= 8 and b["kick"].sum() == 0
    np.testing.assert_array_equal(a["snare"], b["snare"])


def test_a_redrawn_band_is_consistent_with_the_layout_it_came_from(demo_frames):
    from bridge.signals.bands import ENERGY_COLUMNS
    from bridge.signals.triggers import OnsetTriggers

    signals = _classic()
    layout = signals.layout
    j = ENERGY_COLUMNS.index("kick")
    same = layout.band_column("kick", 40.0, 160.0)  # the default band, redrawn
    np.testing.assert_array_equal(same.mask, layout.masks["kick"])
    assert same.fullscale == layout.fullscale[j]
    wide = layout.band_column("kick", 200.0, 2000.0)
    before = layout.matrix.copy(), layout.fullscale.copy()
    assert not np.array_equal(layout.matrix[:, j], wide.mask)  # computing changes nothing
    triggers = _stage(signals, OnsetTriggers)
    triggers.use_band(wide)
    np.testing.assert_array_equal(layout.matrix[:, j], wide.mask)
    assert layout.fullscale[j] == wide.fullscale != before[1][j]
    band = triggers._bands[0]
    assert band.floor == pytest.approx(wide.fullscale * 10 ** (triggers.floor_dbfs / 10))
    others = [c for c in range(layout.matrix.shape[1]) if c != j]
    np.testing.assert_array_equal(layout.matrix[:, others], before[0][:, others])
    # the same result as a layout built with that band from the start
    assert 200 <= wide.lo_centre_hz and wide.hi_centre_hz < 2000
    assert layout.band_column("snare", 20.0, 21.0).mask.sum() == 1  # none inside: the nearest


# ---- the untrusted mapping reader ---------------------------------------------------------------
@pytest.fixture
def signals_table():
    from bridge.runtime.pipeline import _signal_table
    from bridge.signals.catalog import CATALOG

    return _signal_table(CATALOG)


def _refusal(path, signals):
    with pytest.raises(ControlError) as info:
        read_mapping(str(path), signals)
    return str(info.value)


def test_mapping_reader_accepts_the_shipped_mappings(signals_table):
    for path in (ROOT / "mappings").glob("*.yaml"):
        assert read_mapping(str(path), signals_table).routes


def test_mapping_reader_refuses_bad_files_with_one_line(tmp_path, signals_table):
    binary = tmp_path / "model.onnx"
    binary.write_bytes(bytes(range(256)) * 8)
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * MAX_MAPPING_BYTES + "\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rate: 6000\nroutes:\n  - {signal: lwo, osc: {address: /x}}\n")
    broken = tmp_path / "broken.yaml"
    broken.write_text("routes: [\n")
    cases = {tmp_path / "missing.yaml": "No such file", tmp_path: "is a directory",
             binary: "not a UTF-8 text file", big: "at most 256 KiB",
             bad: "problems): ", broken: "not valid YAML"}
    for path, words in cases.items():
        text = _refusal(path, signals_table)
        assert words in text and "\n" not in text, text
    assert "did you mean" in _refusal(bad, signals_table)
    if hasattr(os, "mkfifo"):  # a FIFO would block the reader for ever
        fifo = tmp_path / "fifo.yaml"
        os.mkfifo(fifo)
        assert "not a regular file" in _refusal(fifo, signals_table)


def test_a_yaml_alias_bomb_is_refused_before_it_is_expanded(tmp_path, signals_table):
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 12):  # 9 ** 12 strings once expanded
        lines.append(f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]")
    lines.append("routes: *a11")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    t0 = time.process_time()
    assert "expands to more than" in _refusal(bomb, signals_table)
    assert time.process_time() - t0 < 5.0  # not a speed target: it would take hours expanded
    loop = tmp_path / "loop.yaml"
    loop.write_text("routes: &r [*r]\n")
    assert "refers to itself" in _refusal(loop, signals_table)


# ---- the port, in-process ----------------------------------------------------------------------
def test_control_targets_parse():
    assert parse_control_target("7001") == ("127.0.0.1", 7001)
    assert parse_control_target(":7001") == ("127.0.0.1", 7001)
    assert parse_control_target("0.0.0.0:7001") == ("0.0.0.0", 7001)
    assert parse_control_target("[::1]:7001") == ("::1", 7001)
    for bad in ("", "x", "70000", "host:", "127.0.0.1:0"):
        with pytest.raises(ConfigError, match="--control"):
            parse_control_target(bad)


def test_a_port_in_use_is_one_clear_line():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        with pytest.raises(SinkError) as info:
            ControlPort.open(f"127.0.0.1:{port}")
    assert str(info.value) == (f"control port 127.0.0.1:{port} is in use (another vjbridge "
                               "running?): choose another with --control")
    with pytest.raises(ConfigError, match="cannot resolve host"):
        ControlPort.open("no-such-host.invalid:7001")


class _Targets:
    """Stand-in for ControlTargets: records what would be applied."""

    def __init__(self):
        self.applied = []

    def prepare(self, control, values):
        if control.name == "mapping":
            raise ControlError("no mapping here")
        return None

    def apply(self, control, values, payload):
        if control.name == "ping":
            raise RuntimeError("boom")  # a failing apply is a refusal, never a crash
        self.applied.append((control.name, values))
        return f"{control.name} set"


@pytest.fixture
def port():
    control = ControlPort.open(f"127.0.0.1:{free_udp_port()}")
    control.attach(_Targets())
    control.start()
    client = ControlClient(control.port)
    yield control, client
    client.close()
    control.close()


def _applied_by_engine(control, client, timeout=5.0):
    """What an engine loop does: apply the queue, then wait for the ack."""
    deadline = time.monotonic() + timeout
    while not control.queue and time.monotonic() < deadline:
        time.sleep(0.005)
    control.apply_pending()
    return client.ack(timeout)


def test_acks_for_applied_and_refused_messages(port, caplog):
    control, client = port
    caplog.set_level("INFO", logger="bridge.control")
    client.send("/vjbridge/control/gain/low", 4.0)
    assert _applied_by_engine(control, client) == ("/vjbridge/control/gain/low", 1, "gain/low set")
    assert control.targets.applied == [("gain/low", (4.0,))]
    assert client.call("/vjbridge/control/gain/lwo", 4.0) == (
        "/vjbridge/control/gain/lwo", 0,
        "unknown control; did you mean /vjbridge/control/gain/low?")
    assert client.call("/vjbridge/control/mapping", "/x.yaml")[1:] == (0, "no mapping here")
    client.send("/vjbridge/control/ping")
    assert _applied_by_engine(control, client)[1:] == (0, "could not apply it: RuntimeError: boom")
    # python-osc alone would read a float cut off after its type tag as 0.0: gain 0
    client.send_raw(b"/vjbridge/control/gain/low\x00\x00,f\x00\x00")
    assert client.ack() == ("/vjbridge/control/gain/low", 0,
                            "malformed OSC message (truncated, or bytes after its arguments)")
    client.send_raw(encode_ack("/vjbridge/control/gain/low", True, "x"))  # never answered
    client.send("/vjbridge/control/gain/hgh", 1.0)
    assert client.ack()[0] == "/vjbridge/control/gain/hgh"
    assert control.targets.applied == [("gain/low", (4.0,))]
    lines = [r for r in caplog.records if r.name == "bridge.control"]
    assert [r.levelname for r in lines] == ["INFO"] + ["WARNING"] * 5
    assert lines[1].getMessage() == ("refused /vjbridge/control/gain/lwo: unknown control; did "
                                     "you mean /vjbridge/control/gain/low?")


def test_the_queue_is_bounded(port):
    control, client = port
    for _ in range(MAX_PENDING + 5):
        client.send("/vjbridge/control/gain/mid", 1.0)
    refused = []
    deadline = time.monotonic() + 5
    while len(refused) < 5 and time.monotonic() < deadline:
        refused += [a for a in client.drain() if a[1] == 0]
        time.sleep(0.01)
    assert len(refused) == 5 and all("busy" in a[2] for a in refused)
    assert len(control.queue) == MAX_PENDING


def _fuzz_packets(rng: random.Random):
    """Junk a peer might send: random bytes, truncated and corrupted messages, wrong types,
    NaN/inf, huge ints, missing args, huge strings, bundles, oversized datagrams."""
    from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
    from pythonosc.osc_message_builder import OscMessageBuilder

    def msg(address, *args):
        b = OscMessageBuilder(address)
        for a in args:
            b.add_arg(*a) if isinstance(a, tuple) else b.add_arg(a)
        return b.build().dgram

    good = msg("/vjbridge/control/gain/low", 2.0)
    out = [b"", b"\x00", b"#bundle\x00", b"#bundle\x00" + b"\x00" * 8 + b"\xff\xff\xff\xff",
           b"/vjbridge/control/gain/low\x00\x00,f\x00\x00", good[:-2], good[:10],
           msg("/vjbridge/control/gain/low", float("nan")),
           msg("/vjbridge/control/gain/low", float("inf")),
           msg("/vjbridge/control/gain/low", (2 ** 31 - 1, "i")),
           msg("/vjbridge/control/gain/low", (2 ** 62, "h")),
           msg("/vjbridge/control/gain/low", (1e300, "d")),
           msg("/vjbridge/control/gain/low", "4"), msg("/vjbridge/control/gain/low"),
           msg("/vjbridge/control/gain/low", True), msg("/vjbridge/control/gain/low", b"\x00\x01"),
           msg("/vjbridge/control/band/kick", 100.0), msg("/vjbridge/control/rate", 0.0),
           msg("/vjbridge/control/mapping", "x" * 7000), msg("/vjbridge/control/mapping", 3),
           msg("/" + "a" * 7000), msg("/vjbridge/_ack", "x", 1, "y"),
           b"/x\x00\x00,s\x00\x00\xff\xfe\x00\x00", b"\x00" * (MAX_PACKET + 100)]
    bundle = OscBundleBuilder(IMMEDIATELY)
    for _ in range(40):
        bundle.add_content(OscMessageBuilder("/vjbridge/control/nope").build())
    out.append(bundle.build().dgram)
    for _ in range(300):
        n = rng.randrange(1, 200)
        junk = bytes(rng.randrange(256) for _ in range(n))
        out.append(rng.choice([junk, good[:rng.randrange(len(good))] + junk,
                               b"#bundle\x00" + junk]))
    return out


def test_fuzz_never_stops_the_port(port):
    control, client = port
    packets = _fuzz_packets(random.Random(8))
    acks = []
    for data in packets:
        client.send_raw(data)
        time.sleep(0.003)  # robustness, not a flood (see below): the kernel keeps every packet
        acks += client.drain()  # (and every ack: a full receive buffer here would drop some)
    client.send("/vjbridge/control/gain/high", 0.5)  # a good one after the junk
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        control.apply_pending()
        acks += client.drain()
        if any(a[0] == "/vjbridge/control/gain/high" for a in acks):
            break
        time.sleep(0.01)
    assert control._thread.is_alive()
    assert ("/vjbridge/control/gain/high", 1, "gain/high set") in acks
    assert all(a[2] and "internal error" not in a[2] for a in acks), \
        [a for a in acks if "internal error" in a[2]]
    assert not any(a[0] == "/vjbridge/_ack" for a in acks)  # acks are never answered
    # one answer per packet (but the ack sent to the port, and the bundle of 40: one line that
    # says so and a refusal per message read), and the good one: nothing lost, nothing crashed
    assert len(acks) == (len(packets) - 2) + (1 + 32) + 1
    accepted = [a for a in acks if a[1] == 1]
    assert control.refused == len(acks) - len(accepted)
    # what junk was accepted is a valid message (a good prefix followed by bytes that happen to
    # be a float in range): it was applied, as it should be
    assert {a[0] for a in accepted} <= {"/vjbridge/control/gain/low", "/vjbridge/control/gain/high"}


def test_a_flood_neither_grows_the_queue_nor_stops_the_port(port):
    control, client = port
    flood = [b"\x00" * 64] * 5000 + [encode_ack("x", True, "y")] * 2000
    good = __import__("pythonosc.osc_message_builder", fromlist=["x"]).OscMessageBuilder(
        "/vjbridge/control/gain/low")
    good.add_arg(2.0)
    for i, data in enumerate(flood):
        client.send_raw(good.build().dgram if i % 100 == 0 else data)
    assert len(control.queue) <= MAX_PENDING
    time.sleep(0.5)
    client.drain()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the backlog the kernel kept is worked off, then a ping
        control.apply_pending()
        client.drain()
        client.send("/vjbridge/control/ping")
        time.sleep(0.2)
        control.apply_pending()
        if any(a[0] == "/vjbridge/control/ping" for a in client.drain()):
            break
    else:
        raise AssertionError("the port never answered after the flood")
    assert control._thread.is_alive() and len(control.queue) <= MAX_PENDING
    assert control.received < len(flood)  # the kernel dropped part of it: nothing here grew


def test_ack_encoding_survives_any_text():
    from pythonosc.osc_packet import OscPacket

    m = OscPacket(encode_ack("/a\x00b", True, "\udcff" + "x" * 5000)).messages[0].message
    assert m.address == "/vjbridge/_ack" and m.params[0] == "/ab" and m.params[1] == 1
    assert len(m.params[2]) == 1000


# ---- a real daemon, driven by liblo's oscsend and python-osc -----------------------------------
def _oscsend(port, address, types="", *args):
    require("oscsend", "liblo-tools")
    subprocess.run(["oscsend", "localhost", str(port), address, types, *map(str, args)],
                   check=True, timeout=10)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    stream = StreamReceiver()
    cport, hport = free_udp_port(), free_tcp_port()
    bridge = Bridge("run", "--demo", "--no-models", "--osc", f"127.0.0.1:{stream.port}",
                    "--control", f"127.0.0.1:{cport}", "--log-level", "info",
                    "--status-interval", "60", "--status-port", str(hport))
    try:
        bridge.wait_for("control port udp://127.0.0.1:")
        stream.wait_packets(30)
        client = ControlClient(cport)
        bridge.hport = hport  # /health: a switch is the show's last reload result too
        yield bridge, stream, client, cport, tmp_path_factory.mktemp("control")
        client.close()
    finally:
        if bridge.proc.poll() is None:
            bridge.stop()
        stream.close()


def _wait_ok(client, address, *args):
    reply = client.call(address, *args, timeout=10)
    assert reply[:2] == (address, 1), reply
    return time.monotonic(), reply[2]


@pytest.mark.peers
@pytest.mark.slow
class TestDaemon:
    def test_start_up_line_ping_and_info(self, daemon):
        bridge, stream, client, cport, _ = daemon
        assert f"control port udp://127.0.0.1:{cport} (this machine only)" in bridge.stderr
        assert client.call("/vjbridge/control/ping")[1] == 1
        assert stream.info(0.0)["control"] == {"host": "127.0.0.1", "port": cport}

    def test_gain_0_from_oscsend_drives_low_to_0(self, daemon):
        bridge, stream, client, cport, _ = daemon
        t0 = time.monotonic()
        time.sleep(1.0)
        assert max(stream.values("/vjbridge/low", t0)) > 0.1
        _oscsend(cport, "/vjbridge/control/gain/low", "f", 0.0)
        bridge.wait_for("/vjbridge/control/gain/low: low gain 0 (default 1)")
        t1 = time.monotonic() + 0.2
        time.sleep(1.2)
        after = stream.values("/vjbridge/low", t1)
        assert len(after) > 30 and max(after) == 0.0
        assert max(stream.values("/vjbridge/mid", t1)) > 0.1
        _wait_ok(client, "/vjbridge/control/gain/low", 1.0)

    def test_threshold_40_db_silences_kick(self, daemon):
        bridge, stream, client, cport, _ = daemon
        t0 = time.monotonic()
        time.sleep(3.0)
        assert sum(stream.values("/vjbridge/kick", t0)) >= 2  # the demo's kicks fire
        t1, text = _wait_ok(client, "/vjbridge/control/threshold/kick", 40.0)
        assert text == "kick threshold 40 dB (default 6)"
        time.sleep(3.0)
        assert sum(stream.values("/vjbridge/kick", t1 + 0.1)) == 0
        assert sum(stream.values("/vjbridge/snare", t1 + 0.1)) >= 1
        t2, _ = _wait_ok(client, "/vjbridge/control/threshold/kick", 6.0)
        time.sleep(3.0)
        assert sum(stream.values("/vjbridge/kick", t2)) >= 2

    def test_band_edges_from_oscsend(self, daemon):
        bridge, stream, client, cport, _ = daemon
        _oscsend(cport, "/vjbridge/control/band/kick", "ff", 60, 200)
        line = bridge.wait_for("/vjbridge/control/band/kick: kick band 60-200 Hz")
        assert "mel bands centred" in line
        reply = client.call("/vjbridge/control/band/kick", 200.0, 100.0)
        assert reply[1] == 0 and "lo must be below hi" in reply[2]
        _wait_ok(client, "/vjbridge/control/band/kick", 40.0, 160.0)

    def test_rate_10_gives_about_10_bundles_a_second(self, daemon):
        bridge, stream, client, cport, _ = daemon
        t0, text = _wait_ok(client, "/vjbridge/control/rate", 10.0)
        assert text == "output rate 10 Hz"
        time.sleep(0.3)
        t1 = time.monotonic()
        time.sleep(3.0)
        n = len(stream.ticks(t1, t1 + 3.0))
        assert 20 <= n <= 40, n  # 30 expected; 60 Hz would be 180
        assert stream.info(t1)["rate"] == 10.0  # /vjbridge/_info says so too
        _wait_ok(client, "/vjbridge/control/rate", 60.0)
        t2 = time.monotonic() + 0.3
        time.sleep(2.3)
        assert len(stream.ticks(t2, t2 + 2.0)) >= 80

    def test_mapping_switch_and_a_refused_one(self, daemon):
        bridge, stream, client, cport, tmp = daemon
        assert "/vjbridge/low" in stream.addresses(time.monotonic() - 0.5)
        bad = tmp / "bad.yaml"
        bad.write_text("routes:\n  - {signal: lwo, osc: {address: /x}}\n")
        small, big = tmp / "small.bin", tmp / "big.bin"
        small.write_bytes(bytes(range(256)) * 4)
        big.write_bytes(bytes(range(256)) * 1200)
        for path, words in ((bad, "did you mean 'low'"), (tmp, "is a directory"),
                            (tmp / "missing.yaml", "No such file"),
                            (small, "not a UTF-8 text file"), (big, "at most 256 KiB")):
            reply = client.call("/vjbridge/control/mapping", str(path.resolve()))
            assert reply[1] == 0 and words in reply[2], reply
            assert "control: refused /vjbridge/control/mapping: mapping" in bridge.wait_for(
                f"refused /vjbridge/control/mapping: mapping {path.resolve()}")
            doc = wait_health(bridge.hport, lambda d: words in ((d["mapping"]["reload"] or {})
                                                                .get("message", "")),
                              timeout=5, what=f"the refused switch to {path.name}")
            assert doc["mapping"]["reload"]["ok"] is False
            assert doc["mapping"]["path"].endswith("default.yaml")  # the current one stays
        t0 = time.monotonic()
        time.sleep(0.5)
        assert "/vjbridge/low" in stream.addresses(t0) and "/low" not in stream.addresses(t0)
        good = ROOT / "mappings" / "touchdesigner-audioanalysis.yaml"
        t1, text = _wait_ok(client, "/vjbridge/control/mapping", str(good))
        assert text.startswith(f"mapping {good}: 7 routes")
        doc = wait_health(bridge.hport, lambda d: (d["mapping"]["reload"] or {}).get("ok") is True,
                          timeout=5, what="the switch")
        assert doc["mapping"]["reload"]["message"] == f"switched by the control port to {text}"
        assert doc["mapping"]["path"] == str(good)
        assert any(e["kind"] == "mapping" and e["message"] == doc["mapping"]["reload"]["message"]
                   for e in doc["events"])
        assert "switched by the control port" not in bridge.stderr  # recorded, not logged twice
        time.sleep(0.2)
        t2 = time.monotonic()
        time.sleep(0.5)
        got = stream.addresses(t2)
        assert {"/low", "/mid", "/high", "/kick"} <= got and "/vjbridge/low" not in got
        info = stream.info(t2)
        assert {s["address"] for s in info["signals"]} == got
        _wait_ok(client, "/vjbridge/control/mapping", str(ROOT / "mappings" / "default.yaml"))

    def test_fuzz_leaves_the_daemon_sending(self, daemon):
        bridge, stream, client, cport, tmp = daemon
        bomb = tmp / "bomb.yaml"
        lines = ['a: &b0 ["x","x","x","x","x","x","x","x","x","x"]']
        lines += [f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 10)}]" for i in range(1, 10)]
        bomb.write_text("\n".join(lines) + "\nroutes: *b9\n")  # 10 ** 10 strings expanded
        for data in _fuzz_packets(random.Random(3)):
            client.send_raw(data)
        time.sleep(1.5)  # past the fuzz's second of log lines (capped, then counted)
        assert len(client.drain()) > 200
        reply = client.call("/vjbridge/control/mapping", str(bomb))
        assert reply[1] == 0 and "expands to more than" in reply[2], reply
        _oscsend(cport, "/vjbridge/control/gain/lwo", "f", 1.0)
        _oscsend(cport, "/vjbridge/control/gain/low", "s", "loud")
        _oscsend(cport, "/vjbridge/control/gain/low", "i", 2 ** 31 - 1)
        _oscsend(cport, "/vjbridge/control/rate")
        t0 = time.monotonic()
        time.sleep(1.0)
        assert len(stream.since(t0)) >= 40  # still sending at 60 Hz
        assert client.call("/vjbridge/control/ping")[1] == 1
        assert bridge.proc.poll() is None
        assert "Traceback" not in bridge.stderr
        for line in ("refused /vjbridge/control/gain/lwo: unknown control; did you mean "
                     "/vjbridge/control/gain/low?",
                     "refused /vjbridge/control/gain/low: gain must be a number, got a string",
                     "refused /vjbridge/control/gain/low: gain 2.14748e+09 is out of range 0..8",
                     "refused /vjbridge/control/rate: got 0 arguments"):
            bridge.wait_for(line)
        assert "more control messages in the last second, not logged one by one" in bridge.stderr

    def test_a_flood_neither_stalls_the_stream_nor_grows_memory(self, daemon):
        bridge, stream, client, cport, _ = daemon
        rss = _rss_kb(bridge.proc.pid)
        junk = b"/vjbridge/control/gain/low\x00\x00,s\x00\x00loud\x00\x00\x00\x00"
        flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # its acks are left unread
        t0 = time.monotonic()
        sent = 0
        while time.monotonic() - t0 < 3.0:
            for _ in range(100):
                flood.sendto(junk, ("127.0.0.1", cport))
            sent += 100
            time.sleep(0.001)
        t1 = time.monotonic()
        flood.close()
        assert sent > 5000
        during = len(stream.since(t0 + 0.5, t1))
        assert during >= 0.5 * 60 * (t1 - t0 - 0.5), during  # 60 bundles/s expected
        time.sleep(2.0)
        client.drain()
        assert client.call("/vjbridge/control/ping", timeout=10)[1] == 1
        assert _rss_kb(bridge.proc.pid) - rss < 8 * 1024  # nothing queued per packet
        assert "more control messages in the last second, not logged one by one" in bridge.stderr

    def test_sigterm_stops_it_promptly(self, daemon):
        bridge, stream, client, cport, _ = daemon
        t0 = time.monotonic()
        bridge.proc.send_signal(signal.SIGTERM)
        assert bridge.proc.wait(timeout=10) == 0
        assert time.monotonic() - t0 < 10
        assert "Traceback" not in bridge.stderr
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", cport))  # the control port is free again


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.peers
def test_daemon_with_its_control_port_in_use_exits_1_with_one_line():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        bridge = Bridge("run", "--demo", "--no-models", "--osc", f"127.0.0.1:{free_udp_port()}",
                        "--control", str(port))
        rc = bridge.proc.wait(timeout=60)
        bridge.stop()
    assert rc == 1
    assert bridge.err == [f"vjbridge run: error: control port 127.0.0.1:{port} is in use "
                          "(another vjbridge running?): choose another with --control"]


@pytest.mark.peers
@pytest.mark.slow
def test_a_network_control_port_says_so():
    port = free_udp_port()
    bridge = Bridge("run", "--demo", "--no-models", "--osc", f"127.0.0.1:{free_udp_port()}",
                    "--control", f"0.0.0.0:{port}")
    try:
        line = bridge.wait_for("control port udp://0.0.0.0:")
        assert "reachable from the network" in line
        client = ControlClient(port)  # reached through loopback
        assert client.call("/vjbridge/control/ping", timeout=10)[1] == 1
        client.close()
    finally:
        assert bridge.stop() == 0, bridge.stderr[-3000:]


@pytest.mark.peers
def test_a_stop_message_ends_the_daemon_cleanly_with_idle_values():
    """/vjbridge/control/stop (from liblo's oscsend) stops the daemon as SIGTERM would: exit 0,
    the latency summary printed, every route's idle value sent last (TouchDesigner on Windows
    has no other clean way to end the daemon it started)."""
    stream = StreamReceiver()
    cport = free_udp_port()
    bridge = Bridge("run", "--demo", "--no-models", "--osc", f"127.0.0.1:{stream.port}",
                    "--control", f"127.0.0.1:{cport}", "--status-interval", "60")
    try:
        bridge.wait_for("control port udp://127.0.0.1:")
        stream.wait_packets(30)
        _oscsend(cport, "/vjbridge/control/stop")
        rc = bridge.proc.wait(timeout=10)
    finally:
        if bridge.proc.poll() is None:
            bridge.stop()
        stream.close()
    bridge.stop()
    assert rc == 0, bridge.stderr
    assert any("stopped after" in line for line in bridge.err), bridge.stderr
    last = stream.since(0.0)[-1]  # the last bundle: every route at its idle value
    assert dict(last)["/vjbridge/kick"] == 0.0 and dict(last)["/vjbridge/low"] == 0.0
