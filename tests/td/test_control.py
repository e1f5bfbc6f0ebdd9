"""Live tuning: the Tuning parameters reach a control port as protocol-v1 messages, only on
change, validated client-side; acknowledgements and refusals are read back without blocking.
The control peer here is a UDP socket decoding with python-osc and answering /vjbridge/_ack as the
protocol says (the daemon's own --control is tested against when it exists on main)."""

from __future__ import annotations

import socket
import time

import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from tests.td.helpers import Project, free_udp_port


class ControlPeer:
    def __init__(self, refuse=()):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.refuse = set(refuse)
        self.received = []

    def serve(self, seconds=0.3):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                data, sender = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            msg = OscMessage(data)
            self.received.append((msg.address, list(msg.params)))
            ok = msg.address not in self.refuse
            ack = OscMessageBuilder(address="/vjbridge/_ack")
            ack.add_arg(msg.address)
            ack.add_arg(1 if ok else 0)
            ack.add_arg("applied" if ok else "refused: out of range")
            self.sock.sendto(ack.build().dgram, sender)

    def close(self):
        self.sock.close()


@pytest.fixture
def client():
    import vjb_control
    lines = []
    c = vjb_control.ControlClient(log=lines.append)
    c.lines = lines
    yield c
    c.close()


def defaults():
    import vjb_control
    return {c.key: c.default for c in vjb_control.CONTROLS}


def test_only_changes_are_sent(client):
    peer = ControlPeer()
    try:
        client.set_target(("127.0.0.1", peer.port))
        assert client.update(defaults() | {"rate": 0, "mapping": ""}) == []  # all defaults
        values = defaults() | {"gain_low": 2.0, "band_kick": (50.0, 150.0), "rate": 0,
                               "mapping": ""}
        assert client.update(values) == ["/vjbridge/control/gain/low",
                                          "/vjbridge/control/band/kick"]
        assert client.update(values) == []  # unchanged: nothing sent
        peer.serve()
        assert peer.received == [("/vjbridge/control/gain/low", [2.0]),
                                 ("/vjbridge/control/band/kick", [50.0, 150.0])]
        client.poll()
        assert client.acks == 2 and client.last_refusal == ""
        client.set_target(("127.0.0.1", peer.port + 0))  # same target: nothing resent
        assert client.update(values) == []
    finally:
        peer.close()


def test_invalid_values_are_not_sent(client):
    peer = ControlPeer()
    try:
        client.set_target(("127.0.0.1", peer.port))
        bad = defaults() | {"gain_low": 9.0, "band_snare": (5000.0, 1000.0), "rate": 500.0,
                            "mapping": "/no/such/mapping.yaml", "smoothing": float("nan")}
        assert client.update(bad) == []
        peer.serve(0.2)
        assert peer.received == []
        problems = " | ".join(client.problems.values())
        assert "9.0 is outside 0..8" in problems and "must be below band high" in problems
        assert "outside 1..240 Hz" in problems and "does not exist" in problems
        assert len(client.lines) == 5
        client.update(bad)
        assert len(client.lines) == 5  # logged once per problem, not every frame
    finally:
        peer.close()


def test_refusal_is_exposed(client, tmp_path):
    peer = ControlPeer(refuse={"/vjbridge/control/mapping"})
    mapping = tmp_path / "m.yaml"
    mapping.write_text("version: 1\n")
    try:
        client.set_target(("127.0.0.1", peer.port))
        client.update(defaults() | {"mapping": str(mapping), "rate": 30.0})
        peer.serve()
        client.poll()
        assert client.last_refusal == "/vjbridge/control/mapping: refused: out of range"
        assert client.refusals == 1 and any("refused" in l for l in client.lines)
        assert ("/vjbridge/control/rate", [30.0]) in peer.received
    finally:
        peer.close()


def test_no_target_sends_nothing_and_garbage_acks_are_ignored(client):
    assert client.update(defaults() | {"gain_low": 3.0}) == []
    peer = ControlPeer()
    try:
        client.set_target(("127.0.0.1", peer.port))
        client.ping()
        peer.serve(0.2)
        assert peer.received == [("/vjbridge/control/ping", [])]
        local = client.sock.getsockname()
        peer.sock.sendto(b"garbage!", local)
        bad_ack = OscMessageBuilder(address="/vjbridge/_ack")
        bad_ack.add_arg("only one arg")
        peer.sock.sendto(bad_ack.build().dgram, local)
        time.sleep(0.1)
        client.poll()
        assert client.acks == 1  # the ping's ack only
    finally:
        peer.close()


def test_tuning_page_reaches_the_control_port_from_the_component():
    peer = ControlPeer()
    p = Project(30, free_udp_port())
    try:
        p.cook()
        session = p.session()
        assert session.control.target is None  # no daemon of ours, no _info: nowhere to send
        # as if the daemon's _info had announced this control endpoint:
        session.control_target = lambda: ("127.0.0.1", peer.port)
        p.chop.par.Gainhigh.val = 4.0
        p.chop.par.Thresholdkick.val = 12.0
        p.cook()
        p.cook()  # no change: nothing more
        peer.serve()
        assert peer.received == [("/vjbridge/control/gain/high", [4.0]),
                                 ("/vjbridge/control/threshold/kick", [12.0])]
        p.chop.par.Gainhigh.val = 20.0  # out of range: refused client-side, said in the status
        p.cook()
        assert "not sent: /vjbridge/control/gain/high: 20.0 is outside 0..8" in p.status_dat.text
    finally:
        peer.close()
        p.close()


def test_control_target_from_info():
    import json

    import vjb_osc
    p = Project(30, free_udp_port())
    try:
        p.cook()
        schema = {"signals": [], "control": {"host": "127.0.0.1", "port": 7999}}
        p.session().receiver.feed(vjb_osc.encode_message(
            "/vjbridge/_info", ["vjbridge", "0.1.0", "0123456789abcdef", json.dumps(schema)]))
        p.cook()
        assert p.session().control.target == ("127.0.0.1", 7999)
    finally:
        p.close()
