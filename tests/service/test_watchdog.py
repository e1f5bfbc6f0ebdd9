"""sd_notify from a real ``vjbridge run --demo``, against a stand-in for systemd (sd_receiver.py:
systemd is not PID 1 in these sandboxes), and the engine-loop origin of the pings in-process."""

from __future__ import annotations

import signal
import socket
import sys
import threading
import time

import pytest

from bridge.runtime.sdnotify import Notifier, socket_address, watchdog_interval
from tests.service.sd_receiver import ServiceManager

DEMO = [sys.executable, "-m", "bridge.cli", "run", "--demo", "--no-models", "--mapping", "none",
        "--no-realtime", "--osc"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_ready_then_pings_then_watchdog_restarts_a_stopped_daemon(tmp_path, abstract):
    watchdog = 3.0
    manager = ServiceManager(DEMO + [f"127.0.0.1:{_free_port()}"], watchdog_s=watchdog,
                             abstract=abstract, sock_dir=str(tmp_path)).start()
    try:
        assert manager.wait_for(lambda: "READY=1" in manager.lines(1), 30), manager.lines()
        ready = manager.times("READY=1", 1)[0]
        assert manager.wait_for(
            lambda: sum(t > ready for t in manager.times("WATCHDOG=1", 1)) >= 4, 15)
        pings = [t for t in manager.times("WATCHDOG=1", 1) if t > ready]
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        assert max(gaps) < watchdog / 2, gaps  # at least every WatchdogSec/2
        assert any(m.startswith("STATUS=") for m in manager.lines(1))
        # a real stall: the whole daemon stopped (SIGSTOP); the manager must kill and restart it
        first = manager.proc
        first.send_signal(signal.SIGSTOP)
        stalled = time.monotonic()
        assert manager.wait_for(lambda: manager.starts >= 2, watchdog + 10)
        assert manager.watchdog_kills == 1
        assert first.poll() is not None  # the stopped one is gone
        assert time.monotonic() - stalled >= watchdog * 0.9  # not before the watchdog ran out
        assert manager.wait_for(lambda: "READY=1" in manager.lines(2), 30)
        assert manager.wait_for(lambda: "WATCHDOG=1" in manager.lines(2), 5)
        assert manager.foreign == 0
        # a clean stop says STOPPING=1 and exits 0 (no restart)
        manager.proc.terminate()
        assert manager.wait_for(lambda: "STOPPING=1" in manager.lines(2), 10)
        assert manager.proc.wait(timeout=10) == 0
    finally:
        manager.stop()


class _Blocking:
    """A stage that blocks the engine thread when ``block`` is set (a stuck stage)."""

    name = "blocking"

    def __init__(self):
        self.block = threading.Event()
        self.release = threading.Event()

    def start(self):
        pass

    def reset(self):
        pass

    def close(self):
        pass

    def process(self, frames):
        if self.block.is_set():
            self.release.wait(30)
        return {}


def test_pings_come_from_the_engine_loop_and_stop_when_it_stalls():
    from bridge.runtime.engine import LIVE_SPEC, Engine
    from bridge.sources import DemoSource

    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"vjb-engine-{id(rx)}"
    rx.bind("\0" + name)
    rx.settimeout(0.1)

    class Out:
        def start(self): pass
        def send(self, values): pass
        def idle(self): pass
        def close(self): pass

    stage = _Blocking()
    engine = Engine(DemoSource(LIVE_SPEC.sample_rate, block_seconds=0.01), [stage], [Out()])
    engine.notify = Notifier("@" + name, watchdog_s=0.1)
    stop = threading.Event()
    thread = threading.Thread(target=engine.run, args=(stop,))
    thread.start()
    got: list[tuple[float, str]] = []

    def read_for(seconds, until=None):
        end = time.monotonic() + seconds
        while time.monotonic() < end and not (until and until()):
            try:
                data = rx.recv(4096).decode()
            except TimeoutError:
                continue
            got.extend((time.monotonic(), line) for line in data.split("\n"))

    def pings():
        return sum(m == "WATCHDOG=1" for _, m in got)

    try:
        read_for(30, lambda: "READY=1" in [m for _, m in got] and pings() >= 5)
        assert "READY=1" in [m for _, m in got]
        assert pings() >= 5
        stage.block.set()  # the engine thread is now stuck inside a stage; other threads live on
        time.sleep(0.5)
        got.clear()
        read_for(1.5)
        assert pings() == 0  # 15 ping periods without one
        stage.release.set()
        read_for(20, lambda: pings() >= 3)
        assert pings() >= 3  # pings resume with the engine
    finally:
        stage.release.set()
        stop.set()
        thread.join(10)
        rx.close()
    assert engine.notify.errors == 0


def test_environment_parsing(monkeypatch):
    import os

    assert socket_address("@abc") == "\0abc"
    assert socket_address("/run/x") == "/run/x"
    assert watchdog_interval({"WATCHDOG_USEC": "9000000"}) == pytest.approx(3.0)
    assert watchdog_interval({"WATCHDOG_USEC": "x"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "9000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "9000000",
                              "WATCHDOG_PID": str(os.getpid())}) == pytest.approx(3.0)
    assert Notifier.from_env({}) is None
    assert Notifier.from_env({"NOTIFY_SOCKET": "relative"}) is None


def test_a_missing_receiver_is_counted_not_raised(tmp_path):
    n = Notifier(str(tmp_path / "nobody"))
    assert n.notify("READY=1") is False
    assert n.errors == 1
    n.close()
