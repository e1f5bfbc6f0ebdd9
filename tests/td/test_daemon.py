"""Starting and stopping the external daemon: the platform seams, and the real ``vjbridge run``
started, restarted and stopped from the component's pulses (Script CHOP manual setup)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.td.helpers import Project, free_udp_port, run, wrapper_executable


class FakeProc:
    pid = 4242

    def __init__(self):
        self.signals = []

    def send_signal(self, sig):
        self.signals.append(sig)


def test_windows_and_posix_seams():
    import vjb_daemon
    win = vjb_daemon.popen_options("win32")
    assert win["creationflags"] & 0x200 and win["creationflags"] & 0x08000000  # NEW_PROCESS_GROUP, NO_WINDOW
    assert vjb_daemon.popen_options("darwin") == {"start_new_session": True}
    proc = FakeProc()
    vjb_daemon.request_stop(proc, "win32")
    vjb_daemon.request_stop(proc, "linux")
    assert proc.signals == [getattr(signal, "CTRL_BREAK_EVENT", 1), signal.SIGTERM]
    # with the control port's stop message sent, Windows gets no CTRL_BREAK_EVENT (it cannot
    # reach a console-less child); POSIX still gets SIGTERM; a message that did not go out
    # falls back to the signal
    proc = FakeProc()
    vjb_daemon.request_stop(proc, "win32", ask=lambda: True)
    vjb_daemon.request_stop(proc, "linux", ask=lambda: True)
    vjb_daemon.request_stop(proc, "win32", ask=lambda: False)
    assert proc.signals == [signal.SIGTERM, getattr(signal, "CTRL_BREAK_EVENT", 1)]


class RefusingProc(FakeProc):
    returncode = None

    def send_signal(self, sig):
        raise OSError("The handle is invalid")

    def kill(self):
        self.returncode = 1

    def poll(self):
        return self.returncode


def test_a_refused_stop_signal_kills_at_once():
    import vjb_daemon
    d = vjb_daemon.Daemon(platform="win32")
    d.proc = RefusingProc()
    d.stop()
    assert d.proc is None and d.message == "stopped (exit code 1)"
    assert any("killing it" in line for line in d.tail())


def test_command_line():
    import vjb_daemon
    assert vjb_daemon.build_args(7000, 7001, "m.yaml", "USB") == [
        "run", "--osc", "127.0.0.1:7000", "--control", "127.0.0.1:7001", "--mapping", "m.yaml",
        "--device", "USB"]
    assert vjb_daemon.build_args(7100, None, "", "USB", demo=True) == [
        "run", "--osc", "127.0.0.1:7100", "--demo"]


def test_missing_executable_messages(tmp_path):
    import vjb_daemon
    with pytest.raises(FileNotFoundError) as err:
        vjb_daemon.resolve_executable("", which=lambda name: None, locations=[])
    assert str(err.value).startswith("vjbridge not found: pip install vjbridge, then set "
                                      "Executable to its full path")
    assert "Scripts\\vjbridge.exe" in str(err.value) and "~/.local/bin/vjbridge" in str(err.value)
    with pytest.raises(FileNotFoundError, match="vjbridge '/no/such/vjbridge' not found"):
        vjb_daemon.resolve_executable("/no/such/vjbridge", which=lambda name: None)
    exe = wrapper_executable(tmp_path)
    assert vjb_daemon.resolve_executable(str(exe)) == [str(exe)]
    assert vjb_daemon.resolve_executable("", which=lambda name: "/x/vjbridge") == ["/x/vjbridge"]
    assert vjb_daemon.resolve_executable("", which=lambda name: None,
                                         locations=[str(tmp_path / "no"), str(exe)]) == [str(exe)]


def test_usual_install_locations(tmp_path):
    import vjb_daemon
    scripts = tmp_path / "AppData" / "Roaming" / "Python" / "Python311" / "Scripts"
    scripts.mkdir(parents=True)
    env = {"APPDATA": str(tmp_path / "AppData" / "Roaming"), "LOCALAPPDATA": str(tmp_path / "x")}
    assert vjb_daemon.usual_locations("win32", env) == [str(scripts / "vjbridge.exe")]
    (tmp_path / "Library" / "Python" / "3.11").mkdir(parents=True)
    mac = vjb_daemon.usual_locations("darwin", {}, home=str(tmp_path))
    assert mac[0] == str(tmp_path / ".local" / "bin" / "vjbridge")
    assert mac[-1] == str(tmp_path / "Library" / "Python" / "3.11" / "bin" / "vjbridge")


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.peers
def test_exit_at_once_shows_the_daemons_last_line(tmp_path):
    import vjb_daemon
    d = vjb_daemon.Daemon()
    assert d.start(str(wrapper_executable(tmp_path)),
                   ["run", "--demo", "--mapping", str(tmp_path / "missing.yaml"), "--osc",
                    f"127.0.0.1:{free_udp_port()}"])
    assert wait_for(lambda: d.poll() and d.proc is None)
    assert d.message.startswith("vjbridge exited at once (code 1): ")
    assert "missing.yaml" in d.message and "No such file" in d.message


@pytest.mark.peers
def test_a_daemon_ignoring_stop_is_killed(tmp_path):
    import vjb_daemon
    stubborn = tmp_path / "stubborn"
    stubborn.write_text(f"#!{sys.executable}\nimport signal, time\n"
                        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ignoring', flush=True)\n"
                        "time.sleep(60)\n")
    stubborn.chmod(0o755)
    d = vjb_daemon.Daemon(stop_timeout=0.5)
    assert d.start(str(stubborn), [])
    assert wait_for(lambda: d.last_line() == "ignoring")
    proc = d.proc
    d.stop()  # returns at once: TouchDesigner's frame must not stall
    assert d.proc is proc and d.message.startswith("stopping")
    assert wait_for(lambda: d.poll() and d.proc is None)
    assert proc.returncode == -signal.SIGKILL
    assert "killed" in " ".join(d.tail())


@pytest.mark.peers
@pytest.mark.slow
def test_start_restart_stop_from_the_components_pulses(tmp_path):
    port = free_udp_port()
    p = Project(30, port, Executable=str(wrapper_executable(tmp_path)), Demo=True,
                Controlport=free_udp_port())
    try:
        p.cook()
        assert p.frames[-1]["daemon_running"] == 0.0
        p.chop.par.Start.pulse()
        session = p.session()
        proc = session.daemon.proc
        assert proc is not None and proc.poll() is None  # a real process
        assert "--osc" in session.daemon.command and f"127.0.0.1:{port}" in session.daemon.command
        run([p], 60.0, until=lambda: p.frames and p.frames[-1].get("connected") == 1.0
            and "built-in demo groove" in p.log_dat.text)
        assert p.frames[-1]["daemon_running"] == 1.0 and p.frames[-1]["connected"] == 1.0, p.log_dat.text
        assert "built-in demo groove" in p.log_dat.text  # the daemon's own log, in the DAT
        p.chop.par.Restart.pulse()
        run([p], 20.0, until=lambda: session.daemon.proc is not None
            and session.daemon.proc is not proc)
        second = session.daemon.proc
        assert second is not None and proc.returncode == 0  # the first one stopped cleanly
        run([p], 20.0, until=lambda: p.frames[-1]["packets_per_sec"] > 30)
        p.chop.par.Stop.pulse()
        run([p], 10.0, until=lambda: p.frames[-1]["daemon_running"] == 0.0
            and session.daemon.proc is None)
        assert second.returncode == 0
        assert "stopped (exit code 0)" in p.status_dat.text
        run([p], 1.5)
        assert p.frames[-1]["connected"] == 0.0
    finally:
        p.close()


@pytest.mark.peers
def test_missing_executable_from_the_component(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no vjbridge on PATH
    monkeypatch.setenv("HOME", str(tmp_path))  # nor in ~/.local/bin
    p = Project(30, free_udp_port(), Executable="")
    try:
        p.cook()
        p.chop.par.Start.pulse()
        p.cook()
        assert "vjbridge not found: pip install vjbridge" in p.status_dat.text
        assert "vjbridge not found" in p.log_dat.text
        assert p.frames[-1]["daemon_running"] == 0.0
    finally:
        p.close()


def test_port_in_use_from_the_component():
    port = free_udp_port()
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("127.0.0.1", port))
    p = Project(30, port)
    try:
        for _ in range(3):
            values = p.cook()
        message = (f"port {port} is in use by another program (another OSC In CHOP/DAT?): "
                   "choose another Port on the component and the daemon")
        assert p.status_dat.text.startswith(message)
        assert [line for line in p.log_dat.text.splitlines() if "in use" in line] == \
            [f"vjbridge: {message}"]  # said once, not every frame
        assert values["connected"] == 0.0
        other = free_udp_port()
        p.chop.par.Port.val = other  # choosing another Port rebinds at the next frame
        p.cook()
        assert p.status_dat.text.startswith(f"listening on udp://127.0.0.1:{other}")
    finally:
        blocker.close()
        p.close()
