"""The status page and /health of a real daemon (``vjbridge run --status-port``): rendered in
Debian's headless Chromium driven by selenium, polled during a device loss (PulseAudio stopped with
``pactl exit``) and a mapping reload, flooded with bad requests while oscdump checks the show goes
on, and ``vjbridge status`` asking it. Start-up warnings for targets that cannot work, in a private
network namespace (nothing can leave the machine).
"""

from __future__ import annotations

import json
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from tests.runtime.peers import (VJBRIDGE, Bridge, OscDump, free_tcp_port,
                                 free_udp_port, get_health, require, wait_health)

pytestmark = [pytest.mark.peers, pytest.mark.slow]  # real daemons, a browser, PulseAudio

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--window-size=1280,1000"]


def running(doc) -> bool:
    return doc.get("status") == "ok" and (doc.get("engine") or {}).get("packets", 0) > 30


def status_command(*args) -> subprocess.CompletedProcess:
    return subprocess.run([*VJBRIDGE, "status", *args], capture_output=True, text=True,
                          timeout=30)


@pytest.fixture(scope="module")
def show():
    """One demo show with the shipped models, a real OSC receiver and its status page."""
    dump = OscDump()
    port = free_tcp_port()
    bridge = Bridge("run", "--demo", "--status-port", str(port), "--osc",
                    f"127.0.0.1:{dump.port}", "--status-interval", "1")
    try:
        bridge.wait_for(f"status page http://127.0.0.1:{port}/ (this machine only", timeout=60)
        wait_health(port, running, what="a running show")
        yield bridge, port, dump
    finally:
        assert bridge.stop() == 0, bridge.stderr
        dump.stop()
    assert "Traceback" not in bridge.stderr


@pytest.fixture
def browser(tmp_path):
    require("chromium", "chromium")
    driver_path = require("chromedriver", "chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = require("chromium", "chromium")
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def meters(driver) -> dict[str, str]:
    return driver.execute_script(
        "const out = {}; for (const row of document.querySelectorAll('#meters .meter'))"
        " out[row.dataset.signal] = row.querySelector('.value').textContent; return out;")


def wait_until(fn, timeout=15.0, what=""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"never: {what}")


def test_the_page_renders_live_values_in_headless_chromium(show, browser, tmp_path):
    _, port, _ = show
    url = f"http://127.0.0.1:{port}/"
    browser.get(url)
    wait_until(lambda: browser.find_element("id", "status").text == "OK", what="status OK")
    wait_until(lambda: len(meters(browser)) >= 15, what="a meter per signal")
    first = meters(browser)
    assert {"low", "mid", "high", "rms", "kick", "snare", "beat", "bpm", "motion",
            "weight"} <= set(first)
    packets = int(browser.find_element("id", "packets").text.split()[0])
    time.sleep(1.0)  # three polls later
    second = meters(browser)
    changed = [k for k in first if first[k] != second.get(k)]
    assert len(changed) >= 5, (first, second)  # live values, not a still
    assert int(browser.find_element("id", "packets").text.split()[0]) > packets
    # triggers: their counts grow and their rows flash as the groove's kicks come
    browser.execute_script(
        "window.flashes = 0; new MutationObserver(() => {"
        " if (document.querySelector('[data-signal=kick]').classList.contains('flash'))"
        " window.flashes++; }).observe(document.querySelector('[data-signal=kick]'),"
        " {attributes: true});")
    kicks = int(second["kick"].split("\u00d7")[1])
    wait_until(lambda: int(meters(browser)["kick"].split("\u00d7")[1]) > kicks, what="a kick")
    wait_until(lambda: browser.execute_script("return window.flashes") > 0, what="a flash")
    assert float(browser.find_element("id", "packets-per-s").text) > 30
    assert browser.find_element("id", "device-state").text == "running"
    assert browser.find_element("id", "source").text == "built-in demo groove (--demo)"
    assert "(p50 / p99)" in browser.find_element("id", "latency").text
    assert browser.find_element("id", "drops").text == "0"
    assert browser.find_element("id", "input-state").text == "ok"  # the demo is never silent
    assert browser.find_element("id", "nonfinite").text == "0"
    assert browser.find_element("id", "reload").text == "none since start"
    assert browser.title == "vjbridge: ok"
    # self-contained: the only requests the page made were its own /health polls
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources and all(r == f"{url}health" for r in resources), resources
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors
    shot = tmp_path / "status-page.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


def test_health_and_vjbridge_status_agree_on_a_running_show(show):
    _, port, _ = show
    code, a = get_health(port)
    time.sleep(0.5)
    _, b = get_health(port)
    assert code == 200 and a["status"] == "ok" and a["reasons"] == []
    assert b["seq"] > a["seq"] and b["engine"]["packets"] > a["engine"]["packets"]
    assert [s["value"] for s in a["signals"]] != [s["value"] for s in b["signals"]]
    assert b["source"]["device_state"] == "running" and b["outputs"]["drops"] == 0
    assert b["latency_ms"]["median"] > 0 and b["engine"]["output_rate"] == 60.0
    out = status_command("--port", str(port))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("vjbridge: ok (") and "packets/s" in out.stdout
    out = status_command("--port", str(port), "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["status"] == "ok"


def test_bad_requests_never_disturb_the_engine(show):
    """Unknown paths, huge headers, garbage and 300 connections at once, while oscdump counts
    the show's packets: they keep coming, the engine falls not behind, the page still answers."""
    _, port, dump = show
    _, before = get_health(port)
    stop = threading.Event()
    counts = []

    def sample():
        while not stop.is_set():
            counts.append((time.monotonic(), len(dump.lines)))
            time.sleep(0.05)

    def attack(i):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
                kind = i % 4
                if kind == 0:
                    s.sendall(b"GET /no/such/page HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                elif kind == 1:
                    s.sendall(b"GET /health HTTP/1.1\r\nX: " + b"x" * 70000 + b"\r\n\r\n")
                elif kind == 2:
                    s.sendall(b"\x00\xff" * 1000 + b"\r\n\r\n")
                else:
                    time.sleep(1.0)  # a client that connects and says nothing
                s.recv(1024)
        except OSError:
            pass

    sampler = threading.Thread(target=sample)
    sampler.start()
    threads = [threading.Thread(target=attack, args=(i,)) for i in range(300)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    time.sleep(0.5)
    stop.set()
    sampler.join()
    flood = [(t, n) for t, n in counts if t >= t0]
    assert flood[-1][1] > flood[0][1]
    longest, run = 0.0, 0.0
    for a, b in zip(flood, flood[1:]):  # the longest time oscdump received nothing
        run = run + (b[0] - a[0]) if b[1] == a[1] else 0.0
        longest = max(longest, run)
    assert longest < 1.0, longest
    after = wait_health(port, lambda d: d.get("status") == "ok", timeout=10, what="ok after")
    assert after["source"]["overruns"] == before["source"]["overruns"]
    assert after["outputs"]["drops"] == 0


def test_a_taken_status_port_is_one_line_and_exit_1():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        bridge = Bridge("run", "--demo", "--no-models", "--status-port", str(port))
        assert bridge.proc.wait(timeout=60) == 1
        bridge.stop()
    assert bridge.err == [f"vjbridge run: error: status port 127.0.0.1:{port} is in use "
                          "(another vjbridge or web server?): choose another with --status-port"]


def test_status_without_a_bridge_is_one_line_and_exit_1():
    port = free_tcp_port()
    out = status_command("--port", str(port))
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.splitlines() == [
        f"vjbridge status: no vjbridge status page at http://127.0.0.1:{port}/health "
        f"(Connection refused); is `vjbridge run --status-port {port}` running?"]


def test_a_broadcast_target_is_warned_about_and_its_drops_degrade_health():
    """127.255.255.255 is loopback's broadcast address: every send fails (EACCES), nothing
    leaves the machine. --status-host 0.0.0.0 says the page is reachable from the network."""
    port = free_tcp_port()
    target = free_udp_port()
    bridge = Bridge("run", "--demo", "--no-models", "--status-port", str(port), "--status-host",
                    "0.0.0.0", "--mapping", "none", "--osc", f"127.255.255.255:{target}")
    try:
        line = bridge.wait_for("status page http://0.0.0.0:", timeout=60)
        assert "reachable from the network" in line
        warning = bridge.wait_for("is a broadcast address", timeout=10)
        assert f"osc:raw: udp://127.255.255.255:{target} is a broadcast address" in warning
        doc = wait_health(port, lambda d: d.get("status") == "degraded" and any(
            "drops packets" in r for r in d["reasons"]), timeout=15, what="degraded by drops")
        assert doc["outputs"]["drops"] > 0 and doc["outputs"]["targets"][0]["dropping"]
        messages = [e["message"] for e in doc["events"]]
        assert any("is a broadcast address" in m for m in messages)
        assert any("is dropping packets" in m for m in messages)
        assert status_command("--port", str(port)).returncode == 1  # degraded
        bridge.wait_for("is dropping packets")  # the event reached the log too
    finally:
        assert bridge.stop() == 0, bridge.stderr


def test_targets_that_cannot_work_are_warned_about_at_start(tmp_path):
    """Broadcast, multicast, 0.0.0.0 and unroutable targets in one mapping, in a private
    network namespace with only loopback (nothing can leave the machine, 192.0.2.1 has no
    route); the good target gets no warning and the show runs."""
    require("unshare", "util-linux")
    mapping = tmp_path / "targets.yaml"
    mapping.write_text(
        "version: 1\nosc:\n"
        "  everyone: {host: 255.255.255.255, port: 7000}\n"
        "  group: {host: 224.0.0.251, port: 7000}\n"
        "  nowhere: {host: 0.0.0.0, port: 7000}\n"
        "  faraway: {host: 192.0.2.1, port: 7000}\n"
        "  good: {host: 127.0.0.1, port: 7000}\n"
        "routes:\n" + "".join(f"  - {{signal: rms, osc: {{target: {t}, address: /rms}}}}\n"
                              for t in ("everyone", "group", "nowhere", "faraway", "good")))
    command = " ".join([*VJBRIDGE, "run", "--demo", "--no-models", "--mapping", str(mapping),
                        "--duration", "3"])
    out = subprocess.run(["unshare", "-n", "sh", "-c", f"ip link set lo up; exec {command}"],
                         capture_output=True, text=True, timeout=120,
                         cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]))
    assert out.returncode == 0, out.stderr
    warnings = [line for line in out.stderr.splitlines() if "bridge.events: output:" in line]
    said = "\n".join(warnings)
    assert "osc:everyone: udp://255.255.255.255:7000 is a broadcast address" in said
    assert "osc:group: udp://224.0.0.251:7000 is a multicast group" in said
    assert "osc:nowhere: udp://0.0.0.0:7000 is not a destination" in said
    assert "osc:faraway: udp://192.0.2.1:7000: this machine has no route there" in said
    assert "osc:good" not in said.replace("osc:good (", "")  # no warning about the good one
    assert "Traceback" not in out.stderr


def test_health_reports_a_mapping_reload_and_a_refused_one(tmp_path):
    mapping = tmp_path / "live.yaml"
    text = ("version: 1\nrate: 60\nosc:\n  out: {host: 127.0.0.1, port: 7000}\nroutes:\n"
            "  - {signal: rms, osc: {address: /first/rms}}\n")
    mapping.write_text(text)
    dump = OscDump()
    port = free_tcp_port()
    bridge = Bridge("run", "--demo", "--no-models", "--mapping", str(mapping), "--osc",
                    f"127.0.0.1:{dump.port}", "--status-port", str(port))
    try:
        doc = wait_health(port, running, timeout=60, what="a running show")
        assert doc["mapping"] == {"path": str(mapping), "reload": None}
        edited = time.time()
        mapping.write_text(text.replace("/first/rms", "/second/rms"))
        doc = wait_health(port, lambda d: (d["mapping"]["reload"] or {}).get("ok") is True,
                          timeout=15, what="the reload")
        reload = doc["mapping"]["reload"]
        assert reload["time"] >= edited - 1
        assert reload["message"] == f"mapping {mapping} reloaded: 1 route, 1 osc outputs"
        assert any(e["kind"] == "mapping" and e["message"] == reload["message"]
                   for e in doc["events"])
        mapping.write_text(text.replace("signal: rms", "signal: rmss"))  # unknown signal
        doc = wait_health(port, lambda d: (d["mapping"]["reload"] or {}).get("ok") is False,
                          timeout=15, what="the refused reload")
        message = doc["mapping"]["reload"]["message"]
        assert message.startswith(f"mapping {mapping} not reloaded, the last good one stays: ")
        assert "rmss" in message
        assert doc["status"] == "ok"  # the show runs on, on the last good mapping
        packets = doc["engine"]["packets"]
        n = dump.series("/second/rms").size
        wait_health(port, lambda d: d["engine"]["packets"] > packets + 30, what="packets")
        assert dump.series("/second/rms").size > n
    finally:
        assert bridge.stop() == 0, bridge.stderr
        dump.stop()


def test_health_reports_a_lost_device_within_a_second(pulse):
    """The issue's "Done when": PulseAudio stopped under a running bridge (``pactl exit``) and
    /health, polled every 50 ms, says the input is gone less than 1 s later; then it comes back."""
    dump = OscDump()
    port = free_tcp_port()
    bridge = Bridge("run", "--device", "pulse", "--input-latency", "0.2", "--no-models",
                    "--mapping", "none", "--osc", f"127.0.0.1:{dump.port}", "--status-port",
                    str(port), env=pulse.env)
    try:
        wait_health(port, running, timeout=60, what="a running device")
        time.sleep(0.5)
        t0 = time.monotonic()
        subprocess.run(["pactl", "exit"], env=pulse.env, timeout=10)  # the device disappears
        lost = wait_health(port, lambda d: d["status"] == "down", timeout=10, what="down")
        took = time.monotonic() - t0  # an upper bound: includes pactl and the polling
        assert took < 1.0, (took, lost["reasons"])
        assert lost["source"]["device_state"] in ("lost", "stalled")
        assert any(r.startswith(("input lost: ", "no audio from ")) for r in lost["reasons"])
        pulse.stop()  # wait until the daemon is gone, then bring it back
        pulse.start()
        wait_health(port, lambda d: d["status"] == "ok" and d["source"]["device_state"]
                    == "running", timeout=30, what="the device back")
    finally:
        assert bridge.stop() == 0, bridge.stderr
        dump.stop()
    print(f"/health said down {took:.3f} s after `pactl exit` was started")


def test_sigint_stops_within_2_s_while_clients_hang_on_the_page():
    port = free_tcp_port()
    bridge = Bridge("run", "--demo", "--no-models", "--mapping", "none", "--osc",
                    f"127.0.0.1:{free_udp_port()}", "--status-port", str(port))
    hanging = []
    try:
        wait_health(port, lambda d: (d.get("engine") or {}).get("packets", 0) > 30, timeout=60,
                    what="packets")
        for i in range(40):  # connected, half a request, never finished
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" if i % 2 else b"")
            hanging.append(s)
        time.sleep(0.3)
        t0 = time.monotonic()
        assert bridge.stop(timeout=10) == 0, bridge.stderr
        assert time.monotonic() - t0 < 2.0
    finally:
        bridge.stop()
        for s in hanging:
            s.close()
