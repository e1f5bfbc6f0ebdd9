"""The DMX output against real receivers: OLA's olad reads back sACN and Art-Net universes; raw
sockets (with an E1.31 / ArtDmx reader written here from the specs' field tables) check the
keep-alive cadence, multicast, sync and broadcast. Every network test runs inside a private
network namespace (tests/peers/ola.py) or on loopback only.

Routes are built as the mapping layer will build them once the kind is registered: a validated-
looking route table and RouteInfo through ``dmx_kind.output``; the sink through
``DmxSink.from_config`` with a validated-looking target table.
"""

from __future__ import annotations

import select
import socket
import struct
import time

import pytest

from bridge.sinks import dmx_kind
from bridge.sinks.dmx import DmxLevels, DmxSink
from bridge.sinks.kind import RouteInfo
from tests.peers.ola import E131_IP, NetNamespace, Olad


def target(**over) -> dict:
    cfg = {o.name: o.default for o in dmx_kind.DMX_TARGET.options}
    cfg.update(over)
    return cfg


def route(**over) -> dict:
    sub = {o.name: o.default for o in dmx_kind.DMX_ROUTE.options}
    sub.update(target="lights")
    sub.update(over)
    return sub


def info(signal="rms", size=1, out=(0.0, 1.0), idle=None, colour=None, path="routes[0]"):
    return RouteInfo(signal=signal, path=path, size=size, out=out,
                     idle=out[0] if idle is None else idle, rate=60.0, colour=colour)


PATCH = {
    **{f"par{i + 1}": {"profile": "rgb", "universe": 1, "address": 1 + 3 * i} for i in range(4)},
    "fader": {"profile": "dimmer16", "universe": 1, "address": 20},
    "mover": {"profile": "wash-pantilt", "universe": 1, "address": 30},
}


def outputs(cfg):
    """The routes of a small show: colour on the pars, rms on the 16-bit dimmer (idle 0.2), kick
    on the mover's dimmer, a raw 16-bit channel at 100-101 (idle 0.2 too)."""
    specs = [
        (route(fixture="par*"), info("colour", 3, colour="rgb")),
        (route(fixture="fader", attribute="dimmer"), info("rms", idle=0.2)),
        (route(fixture="mover"), info("kick")),
        (route(universe=1, address=100, bits=16), info("mid", idle=0.2)),
    ]
    for sub, ri in specs:
        problems = []
        dmx_kind.check_route(sub, ri, problems)
        assert problems == []
    assert dmx_kind.check_mapping({"lights": cfg}, [({}, s, i) for s, i in specs]) == []
    return [dmx_kind.output(s, i, cfg) for s, i in specs]


def frame(outs, values):
    return [o.emit(v) for o, v in zip(outs, values)]


def expected_show(data):
    """Slots (1-based address -> value) the values in ``drive`` imply."""
    return {1: 255, 2: 128, 3: 0, 10: 255, 11: 128, 12: 0,  # colour (1.0, 0.5, 0.0) on par1, par4
            20: 76, 21: 205,  # rms 0.3 on 16 bits: round(0.3 * 65535) = 19661 = 76 * 256 + 205
            30: 128, 31: 0, 32: 128, 33: 0,  # mover pan, tilt held at 0.5 (32768)
            34: 255,  # kick 1.0 on the mover's dimmer
            100: 64, 101: 0}  # raw 16-bit 0.25 = 16384


DRIVE = [(1.0, 0.5, 0.0), 0.3, 1.0, 0.25]


def expected_blackout():
    return {1: 0, 2: 0, 3: 0, 20: 51, 21: 51,  # idle 0.2 on 16 bits = 13107 = 51 * 256 + 51
            30: 128, 31: 0, 32: 128, 33: 0, 34: 0, 100: 51, 101: 51}


def check(data, expected):
    got = {a: data[a - 1] for a in expected}
    assert got == expected


@pytest.fixture(scope="module")
def ola():
    with NetNamespace(), Olad() as daemon:
        daemon.patch("e131", 0, 1)
        daemon.patch("artnet", 0, 17)  # OLA 17 <- Art-Net 0:0:1 (OLA U listens to U % 16)
        daemon.patch("artnet", 1, 18)  # OLA 18 <- Art-Net 0:0:2
        daemon.patch("e131", 1, 7)
        yield daemon


def test_sacn_unicast_fixture_channels_follow_routes_and_blackout(ola):
    cfg = target(host=E131_IP, fixtures=PATCH)
    outs = outputs(cfg)
    sink = DmxSink.from_config("lights", cfg)
    sink.set_idle([o.idle() for o in outs])
    try:
        sink.send(frame(outs, DRIVE))
        data = ola.wait_for(1, lambda d: d[0] == 255 and d[99] == 64, what="the show's levels")
        check(data, expected_show(data))
        assert data[4 - 1:9] == [255, 128, 0] * 2  # par2, par3
        sink.send(frame(outs, [(0.0, 0.0, 1.0), 1.0, 0.0, 1.0]))
        data = ola.wait_for(1, lambda d: d[2] == 255 and d[19] == 255, what="changed levels")
        assert data[:12] == [0, 0, 255] * 4 and data[19:21] == [255, 255] and data[33] == 0
        assert data[99:101] == [255, 255]
    finally:
        sink.close()
    data = ola.wait_for(1, lambda d: d[19] == 51, what="the blackout")
    check(data, expected_blackout())
    assert sink.drops == 0 and sink.sent >= 8


def test_artnet_two_universes_unicast(ola):
    patch = {"a": {"profile": "rgbw", "universe": 1, "address": 1},
             "b": {"profile": "dimmer-rgb", "universe": 2, "address": 508}}
    cfg = target(protocol="artnet", host="127.0.0.1", fixtures=patch)
    outs = [dmx_kind.output(route(fixture="a b"), info("colour", 3, colour="rgb8"), cfg),
            dmx_kind.output(route(fixture="a", attribute="white"), info("high"), cfg),
            dmx_kind.output(route(fixture="b", attribute="dimmer"), info("low", out=(0, 10)),
                            cfg)]
    sink = DmxSink.from_config("lights", cfg)
    sink.set_idle([o.idle() for o in outs])
    try:
        sink.send(frame(outs, [(10, 20, 30), 0.5, 5.0]))
        u1 = ola.wait_for(17, lambda d: d[0] == 10, what="Art-Net universe 1")
        u2 = ola.wait_for(18, lambda d: d[508] == 10, what="Art-Net universe 2")
        assert u1[:5] == [10, 20, 30, 128, 0]  # rgb8 as sent, white 0.5
        assert u2[506:512] == [0, 128, 10, 20, 30, 0]  # dimmer 5 of 0..10, then r, g, b
    finally:
        sink.close()
    assert ola.wait_for(17, lambda d: d[3] == 0)[:4] == [0, 0, 0, 0]
    assert ola.wait_for(18, lambda d: d[507] == 0)[507:511] == [0, 0, 0, 0]


def test_sacn_priority_and_universe_seven(ola):
    """A second sACN universe with priority: OLA takes the data; the priority is on the wire."""
    cfg = target(host=E131_IP, priority=150, fixtures={"d": {"profile": "dimmer", "universe": 7,
                                                            "address": 512}})
    out = dmx_kind.output(route(fixture="d"), info("rms"), cfg)
    with DmxSink.from_config("seven", cfg) as sink:
        sink.send([out.emit(0.5)])
        assert ola.wait_for(7, lambda d: d[511] == 128)[511] == 128


# --- raw receivers: an E1.31 / ArtDmx reader from the standards' field tables -----------------
def e131(packet: bytes) -> dict:
    """E1.31-2016 data packet fields (root layer ACN id, framing, DMP) or sync packet."""
    assert packet[4:16] == b"ASC-E1.17\x00\x00\x00"
    vector = struct.unpack(">I", packet[18:22])[0]
    if vector == 0x08:  # VECTOR_ROOT_E131_EXTENDED: a sync packet
        assert struct.unpack(">I", packet[40:44])[0] == 1
        return {"sync": struct.unpack(">H", packet[45:47])[0], "seq": packet[44]}
    assert vector == 0x04 and struct.unpack(">I", packet[40:44])[0] == 0x02
    count = struct.unpack(">H", packet[123:125])[0]
    return {"universe": struct.unpack(">H", packet[113:115])[0], "priority": packet[108],
            "sync_address": struct.unpack(">H", packet[109:111])[0], "seq": packet[111],
            "options": packet[112], "source": packet[44:108].rstrip(b"\0").decode(),
            "start_code": packet[125], "data": packet[126:125 + count]}


def artdmx(packet: bytes) -> dict:
    assert packet[:8] == b"Art-Net\x00" and struct.unpack("<H", packet[8:10])[0] == 0x5000
    length = struct.unpack(">H", packet[16:18])[0]
    return {"version": packet[10] * 256 + packet[11], "seq": packet[12],
            "universe": packet[14] | packet[15] << 8, "data": packet[18:18 + length]}


def receiver(port=0, host="127.0.0.1", groups=()):
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    rx.bind((host, port))
    for g in groups:
        rx.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                      socket.inet_aton(g) + socket.inet_aton("0.0.0.0"))
    rx.setblocking(False)
    return rx


def drain(rx, arrivals: list) -> None:
    while select.select([rx], [], [], 0)[0]:
        arrivals.append((time.monotonic(), rx.recv(2048)))


def run_ticks(sink, items_of, seconds, rx, arrivals, tick=1 / 60):
    """Call ``sink.send`` every ``tick`` s (as the engine does) for ``seconds``."""
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        items = items_of(i)
        if items is not None:
            sink.send(items)
        drain(rx, arrivals)
        i += 1
        time.sleep(tick)
    drain(rx, arrivals)


def test_sacn_rate_repeats_and_keepalive_cadence():
    """Changing every tick: ~44 packets/s. Constant: the change, 2 repeats, then one packet per
    0.8 s; with no send() at all (an idle or stalled engine) the keep-alive thread keeps every
    gap under 1 s. Measured on a loopback receiver."""
    rx = receiver()
    sink = DmxSink("cadence", port=rx.getsockname()[1], universes=[1])
    arrivals: list = []
    try:
        run_ticks(sink, lambda i: [DmxLevels(((1, 0, bytes((i % 256,))),))], 2.0, rx, arrivals)
        changing = [e131(p) for t, p in arrivals if t > arrivals[0][0] + 0.5]
        span = arrivals[-1][0] - arrivals[0][0] - 0.5
        rate = len(changing) / span
        assert 38 <= rate <= 46, f"{rate:.1f} packets/s while changing at rate 44"
        arrivals.clear()
        t0 = time.monotonic()
        run_ticks(sink, lambda i: [DmxLevels(((1, 0, b"\x07"),))], 3.0, rx, arrivals)
        times = [t - t0 for t, _ in arrivals]
        assert [e131(p)["data"][0] for _, p in arrivals[:3]] == [7, 7, 7]
        assert times[2] < 0.15, f"the change and its 2 repeats took {times[2]:.2f} s"
        gaps = [b - a for a, b in zip(times[2:], times[3:])]
        assert gaps and all(0.7 <= g <= 1.0 for g in gaps), gaps
        assert len(arrivals) <= 3 + 3 / 0.8 + 1
        arrivals.clear()
        t0 = time.monotonic()
        run_ticks(sink, lambda i: None, 2.6, rx, arrivals)  # the engine stopped calling
        times = [t0] + [t for t, _ in arrivals]
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert len(arrivals) >= 2 and max(gaps) <= 1.0, gaps
        seqs = [e131(p)["seq"] for _, p in arrivals]
        assert all((b - a) % 256 == 1 for a, b in zip(seqs, seqs[1:])), seqs
    finally:
        sink.close()
        rx.close()


def test_sacn_packet_is_the_librarys_encoding():
    """The patched template equals sacn's own DataPacket encoding of the same fields."""
    from sacn.messages.data_packet import DataPacket

    rx = receiver()
    sink = DmxSink("lib", port=rx.getsockname()[1], universes=[3], priority=42,
                   source_name="vj test", keepalive_thread=False)
    try:
        sink.send([DmxLevels(((3, 10, b"\x01\x02\x03"),))])
        time.sleep(0.05)
        packet = rx.recv(2048)
        data = [0] * 512
        data[10:13] = [1, 2, 3]
        want = DataPacket(cid=sink._cid, sourceName="vj test", universe=3, dmxData=tuple(data),
                          priority=42, sequence=packet[111])
        assert packet == bytes(want.getBytes())
    finally:
        sink.close()
        rx.close()


def test_sacn_multicast_sync_and_termination():
    with NetNamespace(any_address=True):
        groups = ("239.255.0.1", "239.255.1.2", "239.255.0.9")
        rx = receiver(5568, "0.0.0.0", groups)
        fx = {"a": {"profile": "rgb", "universe": 1, "address": 1},
              "b": {"profile": "rgb", "universe": 258, "address": 1}}
        cfg = target(mode="multicast", sync_universe=9, fixtures=fx)
        out = dmx_kind.output(route(fixture="a,b"), info("colour", 3, colour="rgb"), cfg)
        sink = DmxSink.from_config("multi", cfg)
        arrivals: list = []
        try:
            run_ticks(sink, lambda i: [out.emit((1.0, 0.0, 0.5))], 0.3, rx, arrivals)
        finally:
            sink.close()
        time.sleep(0.05)
        drain(rx, arrivals)
        rx.close()
    packets = [e131(p) for _, p in arrivals]
    data = [p for p in packets if "universe" in p]
    assert {p["universe"] for p in data} == {1, 258}
    assert all(p["sync_address"] == 9 and p["priority"] == 100 and p["source"] == "vjbridge"
               for p in data)
    assert [p for p in data if p["universe"] == 258 and p["data"][:3] == b"\xff\x00\x80"]
    syncs = [p for p in packets if "sync" in p]
    assert syncs and all(s["sync"] == 9 for s in syncs)
    assert packets.index(syncs[0]) > 0 and "universe" in packets[packets.index(syncs[0]) - 1]
    last = {p["universe"]: p for p in data}
    assert all(p["options"] & 0x40 and p["data"][:3] == b"\0\0\0" for p in last.values())


def test_artnet_broadcast_and_errors_are_counted_not_raised():
    with NetNamespace(any_address=True):
        from tests.peers.ola import sh

        sh("ip", "addr", "add", "2.0.0.1/8", "brd", "+", "dev", "lo")
        rx = receiver(6454, "0.0.0.0")
        fx = {"w": {"profile": "dimmer", "universe": 0x123, "address": 2}}
        cfg = target(protocol="artnet", mode="broadcast", host="2.255.255.255", fixtures=fx)
        out = dmx_kind.output(route(fixture="w"), info("rms"), cfg)
        arrivals: list = []
        with DmxSink.from_config("bc", cfg) as sink:
            run_ticks(sink, lambda i: [out.emit(1.0)], 0.2, rx, arrivals)
        # unicast to a broadcast address without SO_BROADCAST: EACCES, counted
        with DmxSink("nobc", protocol="artnet", host="2.255.255.255", universes=[1]) as plain:
            plain.send([DmxLevels(((1, 0, b"\x01"),))])
            assert plain.drops >= 1 and plain.sent == 0
        rx.close()
    got = [artdmx(p) for _, p in arrivals]
    assert got and all(g["universe"] == 0x123 and g["version"] == 14 for g in got)
    assert any(g["data"][1] == 255 for g in got) and len(got[0]["data"]) == 512
    assert all(1 <= g["seq"] <= 255 for g in got)


def test_unreachable_network_drops_without_raising():
    with NetNamespace():  # lo only: 10.1.2.3 has no route
        with DmxSink("gone", host="10.1.2.3", universes=[1]) as sink:
            for _ in range(5):
                sink.send([DmxLevels(((1, 0, b"\x01"),))])
                time.sleep(0.03)
            assert sink.drops >= 2 and sink.sent == 0


def test_bad_items_are_refused_before_anything_is_written():
    with DmxSink("v", host="127.0.0.1", port=9, universes=[1], keepalive_thread=False) as sink:
        good = DmxLevels(((1, 0, b"\x05"),))
        for bad, err in [((1, 511, b"\x01\x02"), ValueError), ((2, 0, b"\x01"), ValueError),
                         ((1, 0, bytearray(b"\x01")), ValueError)]:
            with pytest.raises(err):
                sink.send([good, DmxLevels((bad,))])
            assert sink.levels(1)[0] == 0
        with pytest.raises(TypeError):
            sink.send([("not", "levels")])
