"""The status page server in-process: what it answers, what it refuses, and its bounds (threads,
closing while a client hangs). The daemon and the browser: test_status_page.py."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import time

import pytest

from bridge.errors import SinkError
from bridge.runtime.events import Events
from bridge.runtime.snapshot import Publisher
from bridge.runtime.web import MAX_CONNECTIONS, StatusServer
from tests.runtime.test_snapshot import FakeSink, fake_engine


@pytest.fixture
def served():
    engine = fake_engine(FakeSink(), Events(logger=logging.getLogger("test.events")))
    Publisher(engine, clock=time.perf_counter).publish(0.0)
    engine._last_audio = time.perf_counter()
    server = StatusServer.open(engine, "127.0.0.1", 0).start()
    try:
        yield engine, server
    finally:
        server.close()


def get(server, path, *, method="GET", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type"), r.read()
    finally:
        conn.close()


def fresh(engine):
    engine._last_audio = time.perf_counter()
    Publisher(engine).publish()


def test_the_page_and_health(served):
    engine, server = served
    fresh(engine)
    status, kind, body = get(server, "/")
    assert status == 200 and kind == "text/html; charset=utf-8"
    page = body.decode()
    assert "fetch(\"/health\"" in page
    # self-contained: nothing loaded from anywhere (no src, no href but the empty data: icon,
    # no URLs, no @import)
    assert "src=" not in page and "@import" not in page and "url(" not in page
    assert page.count("href=") == page.count('href="data:,"') == 1
    assert "http://" not in page and "https://" not in page
    status, kind, body = get(server, "/health")
    doc = json.loads(body)
    assert (status, kind, doc["status"], doc["reasons"]) == (200, "application/json", "ok", [])
    assert doc["source"]["description"] == "audio input 3 'USB Audio'"
    assert doc["signals"] == [{"name": "low", "kind": "continuous", "min": 0.0, "max": 1.0,
                               "value": 0.5}]
    assert get(server, "/health", method="HEAD")[2] == b""


def test_an_unhealthy_show_answers_503_with_its_reasons(served):
    engine, server = served
    engine.source.state = "lost"
    fresh(engine)
    status, _, body = get(server, "/health")
    doc = json.loads(body)
    assert status == 503 and doc["status"] == "down"
    assert doc["reasons"] == ["input lost: audio input 3 'USB Audio'"]


def test_unknown_paths_methods_and_hosts_are_refused(served):
    _, server = served
    assert get(server, "/etc/passwd")[0] == 404
    assert get(server, "/../../health")[0] == 404
    assert get(server, "/health", method="POST")[0] == 501
    assert get(server, "/health", method="DELETE")[0] == 501
    # DNS rebinding: a page on evil.example that resolves to 127.0.0.1 cannot read the state
    assert get(server, "/health", headers={"Host": "evil.example:7080"})[0] == 421
    assert get(server, "/health", headers={"Host": f"localhost:{server.port}"})[0] == 200
    assert get(server, "/health", headers={"Host": f"[::1]:{server.port}"})[0] == 200


def raw(server, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_huge_request_lines_and_headers_are_refused_and_the_server_goes_on(served):
    _, server = served
    assert raw(server, b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n").startswith(
        b"HTTP/1.1 414")
    assert raw(server, b"GET /health HTTP/1.1\r\nX: " + b"b" * 70000 + b"\r\n\r\n").startswith(
        b"HTTP/1.1 431")
    many = b"".join(b"X-%d: y\r\n" % i for i in range(200))
    assert raw(server, b"GET /health HTTP/1.1\r\n" + many + b"\r\n").startswith(b"HTTP/1.1 431")
    # a TLS hello or other garbage: http.server answers it as HTTP/0.9 (no status line)
    assert b"Error code: 400" in raw(server, b"\x16\x03\x01\x00\xa5garbage\r\n\r\n")
    assert get(server, "/health")[0] in (200, 503)


def test_connections_are_bounded_and_closing_never_waits_for_a_client():
    engine = fake_engine(FakeSink(), Events(logger=logging.getLogger("test.events")))
    Publisher(engine).publish(0.0)
    server = StatusServer.open(engine, "127.0.0.1", 0).start()
    before = threading.active_count()
    idle = []
    try:
        for _ in range(3 * MAX_CONNECTIONS):  # clients that connect and never send a byte
            idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        time.sleep(0.5)
        assert threading.active_count() <= before + MAX_CONNECTIONS
    finally:
        t0 = time.monotonic()
        server.close()
        closed_in = time.monotonic() - t0
        for s in idle:
            s.close()
    assert closed_in < 1.5, closed_in


def test_a_port_in_use_is_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SinkError) as err:
            StatusServer.open(object(), "127.0.0.1", port)
    assert str(err.value) == (f"status port 127.0.0.1:{port} is in use (another vjbridge or web "
                              "server?): choose another with --status-port")


def test_describe_says_when_the_page_is_reachable_from_the_network():
    local = StatusServer.open(object(), "127.0.0.1", 0)
    anywhere = StatusServer.open(object(), "0.0.0.0", 0)
    try:
        assert "(this machine only;" in local.describe()
        assert "reachable from the network" in anywhere.describe()
        assert anywhere.host_allowed("evil.example")  # the user asked for the network
    finally:
        local.close()
        anywhere.close()
