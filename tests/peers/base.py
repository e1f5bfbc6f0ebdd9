"""Helpers every peer uses: find a binary (or fail with its apt-get line), free ports, polling."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest


def require(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.fail(f"{binary} is missing: apt-get install -y {package}")
    return path


def free_port(kind: str = "udp") -> int:
    """A loopback port nobody is bound to right now (the OS picks it)."""
    sock_type = socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, sock_type) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(predicate, timeout: float = 10.0, interval: float = 0.02, what: str = "condition"):
    """Call ``predicate`` until it returns something truthy (returned) or ``timeout`` s pass
    (AssertionError naming ``what``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def listening(port: int, kind: str) -> bool:
    """Whether something listens on ``port`` (``ss -lun`` / ``ss -ltn``)."""
    require("ss", "iproute2")
    out = subprocess.run(["ss", "-lnH", "-u" if kind == "udp" else "-t"], capture_output=True,
                         text=True, timeout=5).stdout
    return any(f":{port} " in line + " " for line in out.splitlines())


def stop_process(proc: subprocess.Popen, sig_first=None, timeout: float = 5.0) -> None:
    """Stop one process we started: ``sig_first`` (default SIGTERM), then SIGKILL after timeout."""
    if proc.poll() is not None:
        return
    if sig_first is None:
        proc.terminate()
    else:
        proc.send_signal(sig_first)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)
