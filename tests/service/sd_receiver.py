"""A faithful stand-in for systemd's service manager side of sd_notify, for tests.

systemd is not PID 1 in these sandboxes, so this plays its part for one ``Type=notify`` service with
``WatchdogSec=``, ``NotifyAccess=main`` and ``Restart=on-failure``: it binds a Unix datagram socket
(a path, or an abstract name given as ``@name``), starts the service with ``NOTIFY_SOCKET``,
``WATCHDOG_USEC`` and ``WATCHDOG_PID`` set as systemd sets them, reads the sender's credentials
(``SO_PASSCRED``) and ignores messages from any process but the main one, as NotifyAccess=main
does. When no ``WATCHDOG=1`` came within WatchdogSec it does what systemd does on a watchdog
timeout: ``SIGABRT`` (WatchdogSignal's default), ``SIGKILL`` after a grace period, and a restart
after ``restart_s`` (RestartSec).
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import threading
import time


class ServiceManager:
    def __init__(self, argv, *, watchdog_s: float, restart_s: float = 0.5, abstract: bool = False,
                 sock_dir: str | None = None, env=None, stderr=None):
        self.argv, self.watchdog_s, self.restart_s = list(argv), watchdog_s, restart_s
        self.env = dict(os.environ if env is None else env)
        self.stderr = stderr
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"vjb-notify-{os.getpid()}-{id(self)}"
            self.sock.bind("\0" + name)
            self.notify_socket = "@" + name
        else:
            self.notify_socket = os.path.join(sock_dir, "notify")
            self.sock.bind(self.notify_socket)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.settimeout(0.05)
        self.messages: list[tuple[float, int, str]] = []  # (time, start index, line)
        self.foreign = 0  # messages from a pid that is not the main process (ignored)
        self.watchdog_kills = 0
        self.starts = 0
        self.proc: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    # ---- service lifecycle ----------------------------------------------------------------------
    def _spawn(self) -> None:
        env = dict(self.env, NOTIFY_SOCKET=self.notify_socket,
                   WATCHDOG_USEC=str(int(self.watchdog_s * 1e6)))
        # systemd sets WATCHDOG_PID to the main pid; with Popen the child's pid is only known after
        # the fork, so the variable is left out here (its meaning - "this process" - is the default)
        self.proc = subprocess.Popen(self.argv, env=env, stdout=subprocess.DEVNULL,
                                     stderr=self.stderr)
        self.starts += 1
        self._last_ping = None  # the watchdog runs from READY on (as systemd's does)

    def start(self) -> ServiceManager:
        self._spawn()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.sock.close()

    # ---- the manager loop -----------------------------------------------------------------------
    def _receive(self) -> None:
        try:
            data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except (TimeoutError, BlockingIOError):
            return
        pid = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", payload[:12])[0]
        if self.proc is None or pid != self.proc.pid:
            self.foreign += 1
            return
        now = time.monotonic()
        with self._lock:
            for line in data.decode("utf-8", "replace").split("\n"):
                self.messages.append((now, self.starts, line))
                if line == "WATCHDOG=1" or (line == "READY=1" and self._last_ping is None):
                    self._last_ping = now

    def _run(self) -> None:
        while not self._stop.is_set():
            self._receive()
            proc = self.proc
            if proc is None:
                continue
            if proc.poll() is not None:  # exited by itself: Restart=on-failure
                if proc.returncode != 0 and not self._stop.is_set():
                    time.sleep(self.restart_s)
                    self._spawn()
                continue
            last = self._last_ping
            if last is not None and time.monotonic() - last > self.watchdog_s:
                self.watchdog_kills += 1  # "Watchdog timeout (limit Ns)!"
                proc.send_signal(signal.SIGABRT)
                try:
                    proc.wait(timeout=1.0)  # TimeoutAbortSec, shortened
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                time.sleep(self.restart_s)
                if not self._stop.is_set():
                    self._spawn()

    # ---- for assertions -------------------------------------------------------------------------
    def lines(self, start: int | None = None) -> list[str]:
        with self._lock:
            return [m for _, s, m in self.messages if start is None or s == start]

    def times(self, line: str, start: int) -> list[float]:
        with self._lock:
            return [t for t, s, m in self.messages if s == start and m == line]

    def wait_for(self, predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()
