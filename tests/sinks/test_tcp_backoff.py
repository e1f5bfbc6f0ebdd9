"""A TCP peer that accepts and closes at once: backoff, one warning per outage with a count."""

from __future__ import annotations

import logging
import socket
import threading
import time

from bridge.sinks.transport import TcpTransport


class FlakyPeer:
    """A real TCP listener on loopback: closes every connection at once while ``flaky``, else
    reads until the client goes."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.1)
        self.port = self.server.getsockname()[1]
        self.flaky = True
        self.accepted = 0
        self.received = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            if self.flaky:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
                conn.close()  # RST: the next write fails
                continue
            conn.settimeout(0.1)
            while not self._stop:
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                self.received += len(data)
            conn.close()

    def close(self):
        self._stop = True
        self._thread.join(5)
        self.server.close()


def test_accept_then_close_backs_off_and_logs_one_line_per_outage(caplog):
    peer = FlakyPeer()
    caplog.set_level(logging.WARNING, logger="bridge.sinks.transport")
    t = TcpTransport("127.0.0.1", peer.port, max_backoff=1.0, stable_s=1.0, report_every_s=60)
    try:
        end = time.monotonic() + 3.0
        while time.monotonic() < end:  # the engine's 60 Hz
            t.send([b"/x\0\0,f\0\0\0\0\0\0"])
            time.sleep(1 / 60)
        storm = [r.getMessage() for r in caplog.records]
        # without backoff this peer was reconnected ~60 times a second, each with a warning
        assert peer.accepted <= 12, peer.accepted
        assert t.failures >= 3
        assert len(storm) == 1, storm
        assert "one line per outage" in storm[0]
        peer.flaky = False  # the peer is fixed: one line with the count once the link held
        assert t.wait_connected(5)
        end = time.monotonic() + 6.0
        while time.monotonic() < end and len(caplog.records) < 2:
            t.send([b"/x\0\0,f\0\0\0\0\0\0"])
            time.sleep(1 / 60)
        lines = [r.getMessage() for r in caplog.records]
        assert len(lines) == 2, lines
        assert "again after" in lines[1] and "failures" in lines[1]
        assert peer.received > 0
    finally:
        t.close()
        peer.close()
