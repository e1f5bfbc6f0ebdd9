"""The Script CHOP callbacks as TouchDesigner calls them, with hand-made packets over a real UDP
socket: the version handshake warns once, bad input and bad parameters never raise, the session
survives a reload of the callbacks file and is not what a saved project keeps."""

from __future__ import annotations

import json
import socket
import time

from pythonosc.osc_message_builder import OscMessageBuilder

from tests.td.helpers import Project, free_udp_port


def send(port, address, *args):
    b = OscMessageBuilder(address=address)
    for a in args:
        b.add_arg(a)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b.build().dgram, ("127.0.0.1", port))


def info_args(version):
    schema = {"schema": 1, "version": version, "digest": "00000000000000aa", "rate": 60.0,
              "signals": [{"address": "/vjbridge/kick", "kind": "trigger", "n": 1,
                           "range": [0, 1]}]}
    return ("vjbridge", version, "00000000000000aa", json.dumps(schema))


def cook_a_while(p, n=5):
    for _ in range(n):
        time.sleep(0.02)
        p.cook()
    return p.frames[-1]


def test_version_mismatch_warns_once_through_the_component():
    port = free_udp_port()
    p = Project(30, port)
    try:
        p.cook()
        textport = []
        p.session().printer = textport.append
        for _ in range(4):  # the daemon repeats _info about once a second
            send(port, "/vjbridge/_info", *info_args("0.0.9"))
            values = cook_a_while(p, 3)
        assert values["version_match"] == 0.0
        warnings = [l for l in p.log_dat.text.splitlines() if "version mismatch" in l]
        assert warnings == ["vjbridge: version mismatch: the daemon is vjbridge 0.0.9, this "
                            "component is 0.1.0; update one of them (pip install -U vjbridge, or "
                            "rebuild the .tox)"]
        assert [l for l in textport if "version mismatch" in l] == warnings  # the Textport, once
        assert "daemon 0.0.9, schema 00000000000000aa, 1 live signals" in p.status_dat.text
        send(port, "/vjbridge/_info", *info_args("0.1.0"))
        assert cook_a_while(p)["version_match"] == 1.0
    finally:
        p.close()


def test_bad_input_and_bad_parameters_never_raise():
    port = free_udp_port()
    p = Project(30, port)
    try:
        p.cook()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"\xff" * 60000, ("127.0.0.1", port))
            s.sendto(b"#bundle\0", ("127.0.0.1", port))
        send(port, "/vjbridge/_info", "vjbridge", "0.1.0", "0123456789abcdef", "{" * 5000)
        send(port, "/vjbridge/low", 0.5)
        values = cook_a_while(p)
        assert values["dropped_packets"] == 2.0 and values["low"] == 0.5
        assert "bad _info" in p.status_dat.text
        p.chop.par.Timeout.expr = "1/0"  # a broken expression: the default is used
        p.chop.par.Channels.val = "[[["  # odd patterns: nothing matches, nothing raises
        p.chop.par.Smoothper.val = "low=abc"
        values = cook_a_while(p)
        assert "low" not in values and "connected" in values
        assert "ignored low=abc" in p.log_dat.text
    finally:
        p.close()


def test_session_survives_a_reload_and_is_not_saved():
    port = free_udp_port()
    p = Project(30, port)
    try:
        p.cook()
        send(port, "/vjbridge/kick", 1.0)
        assert cook_a_while(p, 2)["kick_count"] == 1.0
        first = p.session()
        # Sync to File reloads the DAT after an edit: a new module, the same operator storage
        del p.td.modules[p.callbacks]
        send(port, "/vjbridge/kick", 1.0)
        values = cook_a_while(p, 2)
        assert p.session() is first and values["kick_count"] == 2.0  # same socket, same counts
        assert p.chop.saved_storage()["vjbridge_session"] is None
    finally:
        p.close()


def test_parameters_on_the_parent_comp_win_when_the_chop_has_none():
    port = free_udp_port()
    p = Project(30, free_udp_port())
    try:
        import vjb_params
        comp = p.td.project1
        vjb_params.setup_parameters(comp)
        comp.par.Port.val = port
        # a Script CHOP without its own parameters (as inside the .tox)
        bare = p.td.project1.create(p.td.optypes()["scriptCHOP"], "bare")
        bare.par.callbacks.val = p.callbacks
        bare.cook()
        send(port, "/vjbridge/low", 0.25)
        time.sleep(0.05)
        p.td.absTime.frame += 1
        bare.cook()
        assert bare.values()["low"] == 0.25
        assert comp.fetch("vjbridge_session", None, search=False) is not None
        comp.fetch("vjbridge_session", None, search=False).close()
    finally:
        p.close()


def test_setup_parameters_twice_keeps_pages_and_values():
    p = Project(30, free_udp_port())
    try:
        p.chop.par.Gainlow.val = 3.0
        p.chop.setup_parameters()  # the user presses Setup Parameters again
        assert [pg.name for pg in p.chop.customPages] == ["Receiver", "Daemon", "Tuning"]
        assert p.chop.par.Gainlow.val == 3.0 and p.chop.par.Port.default == 7000
    finally:
        p.close()


class FakeDaemon:
    running = True
    message = "running"
    proc = None
    lines_version = 0

    def __init__(self):
        self.restarts = []

    def restart(self, executable, args):
        self.restarts.append(args)

    def poll(self):
        return self.message

    def tail(self):
        return []

    def stop(self, wait=False, ask=None):
        self.running = False


def test_a_new_port_restarts_the_daemon_we_run():
    import vjb_params
    import vjb_session
    daemon = FakeDaemon()
    s = vjb_session.Session(daemon=daemon, printer=lambda _l: None)
    values = vjb_params.read(object())  # every default
    values["Port"] = free_udp_port()
    s.frame(1, values)
    assert daemon.restarts == []
    values = dict(values, Port=free_udp_port())
    s.frame(2, values)
    assert daemon.restarts and f"127.0.0.1:{values['Port']}" in daemon.restarts[0]
    s.close()
