"""OLA's ``olad`` as a real DMX receiver (sACN and Art-Net), inside a private network namespace.

Recipe: ../shared/notes/real-peers.md ("DMX: OLA (olad)..."). :class:`NetNamespace` moves the
*calling thread* (the test's) into a new network namespace and back (``unshare``/``setns`` through
libc; root only): sockets the test opens there, and every process it starts there (``ip``, olad, the
reader), live in it, so nothing can leave the machine and nothing on the machine sees the traffic.
Threads started inside (a sink's keep-alive thread) stay there until they end.

:class:`Olad` generates a configuration directory with one olad run, disables every plugin but
ArtNet (127.0.0.1, loopback allowed) and E1.31 (on a veth holding 127.0.1.1: E1.31 refuses loopback
interfaces), patches input ports to universes and reads universes back with ola-python under
Debian's /usr/bin/python3 (:mod:`tests.peers.ola_reader`). Fails (never skips) when olad is missing.
"""

from __future__ import annotations

import ctypes
import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.peers.base import poll, require

CLONE_NEWNET = 0x40000000
E131_IP = "127.0.1.1"
READER = Path(__file__).with_name("ola_reader.py")
SYSTEM_PYTHON = "/usr/bin/python3"


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def sh(*cmd: str) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    if out.returncode:
        raise AssertionError(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr.strip()}")
    return out.stdout


class NetNamespace:
    """``with NetNamespace(any_address=False):`` the calling thread in a fresh network namespace
    with ``lo`` up. ``any_address``: every IPv4 address is local (``ip route add local
    0.0.0.0/0 dev lo``), so multicast groups and broadcast land on this namespace's sockets."""

    def __init__(self, *, any_address: bool = False) -> None:
        self.any_address = any_address
        self._old: int | None = None

    def __enter__(self) -> "NetNamespace":
        if os.geteuid() != 0:
            pytest.fail("the DMX peer tests need root (a private network namespace); CI runs "
                        "as root")
        require("ip", "iproute2")
        self._old = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        if _libc().unshare(CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            os.close(self._old)
            pytest.fail(f"unshare(CLONE_NEWNET) failed: {os.strerror(err)}")
        sh("ip", "link", "set", "lo", "up")
        if self.any_address:
            sh("ip", "route", "add", "local", "0.0.0.0/0", "dev", "lo")
        return self

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            rc = _libc().setns(self._old, CLONE_NEWNET)
            os.close(self._old)
            self._old = None
            if rc != 0:
                raise OSError(ctypes.get_errno(), "setns back to the test's network namespace")


class Olad:
    """olad with ArtNet on 127.0.0.1 and E1.31 on 127.0.1.1, started inside the current network
    namespace (use within :class:`NetNamespace`). ``patch("artnet"|"e131", port, universe)``;
    ``fetch(universe)`` -> 512 ints; ``wait_for(universe, predicate)``."""

    def __init__(self) -> None:
        self.olad = require("olad", "ola")
        for tool in ("ola_patch", "ola_dev_info"):
            require(tool, "ola")
        if not Path(SYSTEM_PYTHON).exists() or subprocess.run(
                [SYSTEM_PYTHON, "-c", "import ola.ClientWrapper"], capture_output=True).returncode:
            pytest.fail("ola-python is missing for /usr/bin/python3: apt-get install -y "
                        "ola-python")
        try:
            self.user = pwd.getpwnam("olad")
        except KeyError:
            pytest.fail("no 'olad' user (the ola package creates it): apt-get install -y ola")
        self.dir = Path(tempfile.mkdtemp(prefix="vjbridge-olad-"))
        self.dir.chmod(0o755)  # olad runs as its own user and must reach conf/
        self.conf = self.dir / "conf"
        self.proc: subprocess.Popen | None = None
        self.reader: subprocess.Popen | None = None
        self.devices: dict[str, int] = {}

    # --- life cycle --------------------------------------------------------------------------
    def __enter__(self) -> "Olad":
        try:
            self._veth()
            self.conf.mkdir()
            os.chown(self.conf, self.user.pw_uid, self.user.pw_gid)
            self._start()  # first run: olad writes every plugin's defaults when it stops
            self._stop_olad()
            if not (self.conf / "ola-e131.conf").exists():
                raise AssertionError(f"olad wrote no configuration: {self.log_text()}")
            self._configure()
            self._start()
            self.devices = self._device_ids()
            self.reader = subprocess.Popen([SYSTEM_PYTHON, "-I", str(READER)], stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, text=True, bufsize=1)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.reader is not None:  # the reader first: olad waits for its clients otherwise
            self.reader.stdin.close()
            try:
                self.reader.wait(3)
            except subprocess.TimeoutExpired:
                self.reader.kill()
            self.reader = None
        self._stop_olad()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _veth(self) -> None:
        sh("ip", "link", "add", "olalo", "type", "veth", "peer", "name", "olalo1")
        sh("ip", "link", "set", "olalo1", "up")
        sh("ip", "addr", "add", f"{E131_IP}/32", "dev", "olalo")
        sh("ip", "link", "set", "olalo", "up")

    def _start(self) -> None:
        self.log = open(self.dir / "olad.log", "ab")
        self.proc = subprocess.Popen(
            ["runuser", "-u", "olad", "--", self.olad, "-c", str(self.conf), "--no-http",
             "--no-register-with-dns-sd", "-l", "3"], stdout=self.log, stderr=subprocess.STDOUT)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"olad exited ({self.proc.returncode}): {self.log_text()}")
            return subprocess.run(["ola_dev_info"], capture_output=True).returncode == 0
        poll(up, 10, 0.05, what="olad to answer ola_dev_info")

    def _stop_olad(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self.log.close()

    def log_text(self) -> str:
        return (self.dir / "olad.log").read_text(errors="replace")[-2000:]

    def _configure(self) -> None:
        for conf in self.conf.glob("ola-*.conf"):
            text = re.sub(r"(?m)^enabled = true$", "enabled = false", conf.read_text())
            conf.write_text(text)
        self._set("ola-artnet.conf", enabled="true", ip="127.0.0.1", use_loopback="true")
        self._set("ola-e131.conf", enabled="true", ip=E131_IP)

    def _set(self, name: str, **values: str) -> None:
        path = self.conf / name
        text = path.read_text()
        for key, value in values.items():
            text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
            if not n:
                text += f"{key} = {value}\n"
        path.write_text(text)

    def _device_ids(self) -> dict[str, int]:
        out = sh("ola_dev_info")
        ids = {}
        for m in re.finditer(r"(?m)^Device (\d+): (.*)$", out):
            name = m.group(2)
            if name.startswith("ArtNet"):
                ids["artnet"] = int(m.group(1))
            elif name.startswith("E1.31"):
                ids["e131"] = int(m.group(1))
        if set(ids) != {"artnet", "e131"}:
            raise AssertionError(f"olad has not both ArtNet and E1.31 devices: {out}\n"
                                 f"{self.log_text()}")
        return ids

    # --- use ---------------------------------------------------------------------------------
    def patch(self, device: str, port: int, universe: int) -> None:
        """Patch input ``port`` of ``device`` ("artnet" | "e131") to OLA ``universe``. For
        Art-Net, OLA universe U listens to Art-Net Port-Address U % 16 (net 0, sub-net 0); for
        E1.31, to sACN universe U."""
        sh("ola_patch", "-d", str(self.devices[device]), "-p", str(port), "-i", "-u",
           str(universe))

    def fetch(self, universe: int) -> list[int]:
        self.reader.stdin.write(f"{universe}\n")
        line = self.reader.stdout.readline()
        if not line:
            raise AssertionError(f"the OLA reader died; olad log: {self.log_text()}")
        answer = json.loads(line)
        if "error" in answer:
            raise AssertionError(f"olad: {answer['error']}")
        return answer["data"]

    def wait_for(self, universe: int, predicate, timeout: float = 5.0, what: str = "levels"):
        """Fetch ``universe`` until ``predicate(data)`` holds; the last data on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            data = self.fetch(universe)
            if predicate(data):
                return data
            if time.monotonic() > deadline:
                raise AssertionError(f"olad universe {universe}: timed out waiting for {what}; "
                                     f"first 24 slots {data[:24]}")
            time.sleep(0.03)
