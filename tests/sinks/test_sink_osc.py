"""OSC sink against liblo's oscdump: UDP bundles and plain messages, TCP with SLIP (1.1) and
length-prefixed (1.0) framing; receivers that are missing or go away never block send()."""

import socket
import struct
import threading
import time

import numpy as np
import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc import slip
from pythonosc.osc_message_builder import OscMessageBuilder

from bridge.errors import SinkError
from bridge.sinks import OscSink, OscValue
from bridge.sinks.osc_encode import OscEncoder, frame_length, frame_slip
from tests.peers import OscDump, free_port, poll

FRAME = [OscValue("/vjbridge/motion", 0.25), OscValue("/vjbridge/bpm", 128),
         OscValue("/vjbridge/low", -1.5), OscValue("/vjbridge/r", 0.75)]


def _reference_message(address, value):
    b = OscMessageBuilder(address)
    b.add_arg(value, "i" if type(value) is int else "f")
    return b.build()


def test_encoder_bytes_equal_python_osc():
    enc = OscEncoder()
    for address, value in FRAME + [OscValue("/a", 2**31 - 1), OscValue("/abcd", 1e-3)]:
        assert enc.message(address, value) == _reference_message(address, value).dgram
    bundle = OscBundleBuilder(IMMEDIATELY)
    for address, value in FRAME:
        bundle.add_content(_reference_message(address, value))
    assert enc.bundle([enc.message(a, v) for a, v in FRAME]) == bundle.build().dgram
    assert frame_length(b"abcd") == b"\x00\x00\x00\x04abcd"
    assert frame_slip(b"a\xc0b\xdb") == b"a\xdb\xdcb\xdb\xdd\xc0"
    assert slip.decode(frame_slip(b"a\xc0b\xdb")) == b"a\xc0b\xdb"


def _check_frame(lines, frame):
    assert [(m.address, m.types) for m in lines] == [
        (a, "i" if type(v) is int else "f") for a, v in frame]
    for m, (_, v) in zip(lines, frame):
        assert m.args[0] == pytest.approx(v, abs=1e-6)


def test_udp_bundles_reach_oscdump_with_one_timetag_per_frame():
    with OscDump("udp") as dump, OscSink("td", port=dump.port, bundle=True) as sink:
        sink.send(FRAME)
        second = [OscValue(a, v * 2 if type(v) is float else v + 1) for a, v in FRAME]
        sink.send(second)
        lines = dump.wait_for(8)
        assert sink.stats() == {"frames": 2, "sent": 2, "drops": 0, "refused": 0}  # one datagram per frame
    _check_frame(lines[:4], FRAME)
    _check_frame(lines[4:8], second)
    assert len({m.timetag for m in lines[:4]}) == 1
    assert len({m.timetag for m in lines[4:8]}) == 1


def test_udp_plain_messages_reach_oscdump():
    with OscDump("udp") as dump, OscSink("td", port=dump.port, bundle=False) as sink:
        sink.send(FRAME)
        lines = dump.wait_for(4)
        assert sink.stats() == {"frames": 1, "sent": 4, "drops": 0, "refused": 0}  # one datagram per message
    _check_frame(lines[:4], FRAME)


def test_oscdump_reads_our_bundle_timetag():
    """A bundle with an explicit (past) timetag is printed with that timetag: liblo parsed it
    as a bundle, not as loose messages."""
    enc = OscEncoder()
    tag = struct.pack(">II", 0x83AA7E80 + 1, 0x80000000)  # 1970-01-01T00:00:01.5 in NTP time
    packet = enc.bundle([enc.message("/x", 1.0), enc.message("/y", 2)], timetag=tag)
    with OscDump("udp") as dump:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(packet, ("127.0.0.1", dump.port))
        lines = dump.wait_for(2)
    assert [(m.timetag, m.address, m.args) for m in lines] == [
        ("83aa7e81.80000000", "/x", (1.0,)), ("83aa7e81.80000000", "/y", (2,))]


@pytest.mark.parametrize("framing", ["slip", "length"])
@pytest.mark.parametrize("bundle", [True, False])
def test_tcp_framings_reach_oscdump(framing, bundle):
    with OscDump("tcp") as dump:
        sink = OscSink("eos", port=dump.port, protocol="tcp", framing=framing, bundle=bundle)
        try:
            assert sink.transport.wait_connected(10)
            sink.send(FRAME)
            sink.send(FRAME[:1])
            lines = dump.wait_for(5)
        finally:
            sink.close()
    _check_frame(lines[:4], FRAME)
    _check_frame(lines[4:5], FRAME[:1])
    assert sink.drops == 0


def _returns(fn, limit=60.0) -> bool:
    """Run ``fn`` in a thread; whether it returned within ``limit`` s (a liveness check: a blocking
    send would hang on the network for ever, not merely be slow)."""
    t = threading.Thread(target=fn, daemon=True)
    t.start()
    t.join(limit)
    return not t.is_alive()


def test_unreachable_tcp_target_never_blocks_and_counts_drops():
    port = free_port("tcp")  # nobody listens: connection refused, retried in the background
    sink = OscSink("gone", port=port, protocol="tcp")
    try:
        assert _returns(lambda: [sink.send(FRAME) for _ in range(200)])
        assert sink.drops == 200 and sink.sent == 0  # one bundle per frame, all dropped
        assert not sink.transport.connected
    finally:
        sink.close()


def test_stalled_tcp_receiver_never_blocks_send():
    """A receiver that accepts but never reads: its buffers fill, send() still returns at once
    and the overflow is counted as drops."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        sink = OscSink("stalled", port=server.getsockname()[1], protocol="tcp", bundle=False)
        conn = None
        try:
            assert sink.transport.wait_connected(10)
            conn, _ = server.accept()
            frame = [OscValue(f"/vjbridge/{'x' * 200}/{i}", float(i)) for i in range(64)]
            assert _returns(lambda: [sink.send(frame) for _ in range(3000)])  # ~50 MB offered
            assert sink.drops > 0
            assert sink.sent + sink.drops <= 3000 * 64
        finally:
            if conn is not None:
                conn.close()
            assert _returns(sink.close)


def test_tcp_receiver_going_away_and_coming_back():
    port = free_port("tcp")
    with OscDump("tcp", port=port) as dump:
        sink = OscSink("eos", port=port, protocol="tcp", framing="slip")
        assert sink.transport.wait_connected(10)
        sink.send(FRAME)
        dump.wait_for(4)
    # the receiver is gone: sends keep returning, the connection loss is noticed and counted
    poll(lambda: (sink.send(FRAME), not sink.transport.connected)[1], what="loss noticed")
    before = sink.drops
    sink.send(FRAME)
    assert sink.drops == before + 1  # one bundle
    with OscDump("tcp", port=port) as again:  # same port: the background thread reconnects
        assert sink.transport.wait_connected(15)
        assert sink.transport.connects == 2
        sink.send([OscValue("/back", 1.0)])
        lines = again.wait_for(1)
        sink.close()
    assert lines[0].address == "/back"


def test_udp_receiver_going_away_does_not_raise():
    with OscDump("udp") as dump:
        port = dump.port
        sink = OscSink("td", port=port)
        sink.send(FRAME)
        dump.wait_for(4)
    for _ in range(50):  # ICMP port-unreachable must not surface as an exception
        sink.send(FRAME)
    assert sink.sent + sink.drops + sink.refused == 51
    # loopback answers at once: the kernel reports "nothing listening" on the following sends,
    # counted apart from real drops (a full buffer, no route)
    assert sink.refused > 0 and sink.drops == 0
    assert sink.stats()["refused"] == sink.refused
    with OscDump("udp", port=port) as again:  # a receiver starts: packets arrive again
        before = sink.refused
        for _ in range(3):
            sink.send(FRAME)
        lines = again.wait_for(4)
        assert lines and sink.refused <= before + 1  # at most the one pending error is reported
    sink.close()


def test_validation_rejects_numpy_scalars_and_bad_values():
    with OscDump("udp") as dump, OscSink("td", port=dump.port) as sink:
        with pytest.raises(TypeError, match="convert numpy scalars with float"):
            sink.send([OscValue("/a", np.float32(0.5))])
        with pytest.raises(ValueError, match="not a finite 32-bit float"):
            sink.send([OscValue("/a", float("nan"))])
        with pytest.raises(ValueError, match="32-bit OSC int"):
            sink.send([OscValue("/a", 2**31)])
        with pytest.raises(ValueError, match="starting with '/'"):
            sink.send([OscValue("a", 1.0)])
        assert sink.frames == 0


def test_blackout_and_close_send_idle_values():
    with OscDump("udp") as dump:
        sink = OscSink("td", port=dump.port)
        sink.set_idle([OscValue("/vjbridge/motion", 0.0), OscValue("/vjbridge/bpm", 0)])
        sink.send(FRAME)
        sink.close()
        sink.close()  # idempotent
        lines = dump.wait_for(6)
    assert [(m.address, m.args[0]) for m in lines[4:]] == [("/vjbridge/motion", 0.0),
                                                           ("/vjbridge/bpm", 0)]
    with pytest.raises(SinkError, match="closed"):
        sink.send(FRAME)


def test_close_right_after_a_blackout_does_not_send_the_idle_values_again():
    idle = [OscValue("/vjbridge/motion", 0.0)]
    with OscDump("udp") as dump:
        sink = OscSink("td", port=dump.port)
        sink.set_idle(idle)
        sink.send(FRAME)
        sink.blackout()  # idle values out (e.g. the audio device went away)
        sink.send(FRAME)  # the show goes on: the outputs are no longer at idle
        sink.blackout()  # the engine at exit: idle() ...
        sink.close()  # ... then close(): already at idle, nothing more is sent
        lines = dump.wait_for(10)
        time.sleep(0.3)  # anything close() sent would have arrived by now
        lines = dump.messages()
    got = [(m.address, m.args[0]) for m in lines]
    assert got.count(("/vjbridge/motion", 0.0)) == 2, got  # one per blackout, none from close()
    assert len(got) == 10


def test_unresolvable_host_is_one_clear_line():
    with pytest.raises(SinkError) as info:
        OscSink("td", host="no-such-host.invalid", port=7000)
    msg = str(info.value)
    assert "cannot resolve host 'no-such-host.invalid'" in msg and "\n" not in msg
