"""`vjbridge schema` lists exactly what a run sends: compared with what liblo's oscdump received from a
real `vjbridge run`, and with the `/vjbridge/_info` message the daemon sends about once a second."""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bridge.runtime.stream_schema import INFO_ADDRESS, describe, digest, info_message_args
from bridge.signals.catalog import Catalog
from tests.peers.osc import OscDump
from tests.runtime.peers import VJBRIDGE, Bridge

ROOT = Path(__file__).resolve().parents[2]


def schema_json(*args: str) -> dict:
    out = subprocess.run([*VJBRIDGE, "schema", "--json", *args], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def info_lines(text: str) -> list[list[str]]:
    """The string arguments of every /vjbridge/_info line oscdump printed (strings are quoted)."""
    out = []
    for line in text.splitlines():
        parts = line.split(" ", 3)
        if len(parts) == 4 and parts[1] == INFO_ADDRESS:
            assert parts[2] == "ssss", line
            first = parts[3].split(" ", 3)  # oscdump quotes strings without escaping them
            out.append([a.strip('"') for a in first[:3]] + [first[3][1:-1]])
    return out


def run_and_dump(args: list[str], seconds: float = 3.0):
    with OscDump("udp") as dump:
        bridge = Bridge("run", "--demo", "--osc", f"127.0.0.1:{dump.port}", "--duration", str(seconds),
                        *args)
        assert bridge.proc.wait(timeout=60) == 0, bridge.stderr
        bridge.stop()
        time.sleep(0.3)
        return dump.port, dump.messages(), dump.text()


@pytest.mark.peers
@pytest.mark.parametrize("mapping", ["default", "mappings/touchdesigner-audioanalysis.yaml",
                                     "none"])
def test_schema_lists_exactly_what_a_run_sends(mapping):
    port, messages, text = run_and_dump(["--mapping", mapping])
    schema = schema_json("--mapping", mapping, "--osc", f"127.0.0.1:{port}")
    counts = Counter(m.address for m in messages)
    infos = info_lines(text)
    # the daemon's own description of the stream equals the command's, digest and all
    assert len(infos) >= 2, "expected /vjbridge/_info on start and about once a second"
    target = next(iter(schema["osc"]))
    assert infos[0] == info_message_args(schema, target)[:3] + [infos[0][3]]
    assert json.loads(infos[0][3])["signals"] == [
        {k: e[k] for k in ("address", "signal", "type", "n", "range", "kind", "unit", "live")}
        for e in schema["signals"]]
    data = {a: n for a, n in counts.items() if a != INFO_ADDRESS}
    listed = {e["address"]: e for e in schema["signals"]}
    assert set(data) == set(listed), (set(data) ^ set(listed))
    # one packet per tick for every live address; a trigger's early event packets (fast triggers)
    # come on top of its ticks, so the tick count is the median, not the maximum
    frames = statistics.median_low(data[a] for a, e in listed.items() if e["live"])
    assert frames > 100  # ~3 s at 60 Hz
    for address, entry in listed.items():
        if entry["live"]:
            assert data[address] >= frames - 2, (address, data[address], frames)
        else:  # routed but produced by nothing in this run: its idle value once, at exit
            assert data[address] == 1, (address, data[address])
    types = {m.address: m.types for m in messages}
    for address, entry in listed.items():
        assert types[address] == entry["type"] * entry["n"]
    for m in messages:  # every value inside the range the schema promises
        entry = listed.get(m.address)
        if entry is not None:
            lo, hi = entry["range"]
            lo, hi = -math.inf if lo is None else lo, math.inf if hi is None else hi
            assert all(lo - 1e-6 <= v <= hi + 1e-6 for v in m.args), (m, entry["range"])
            if entry.get("typical"):  # a raw model output: unbounded, its training range given
                assert mapping == "none" and entry["source"] == "model"


@pytest.mark.peers
def test_the_mel_spectrum_is_one_message_of_64_floats_when_the_mapping_routes_it(tmp_path):
    mapping = tmp_path / "mel.yaml"
    mapping.write_text("version: 1\nosc:\n  td: {host: 127.0.0.1, port: 7000}\nroutes:\n"
                       "  - {signal: low, osc: {address: /vjbridge/low}}\n"
                       "  - {signal: mel, osc: {address: /vjbridge/mel}}\n")
    port, messages, text = run_and_dump(["--mapping", str(mapping), "--no-models"])
    schema = schema_json("--mapping", str(mapping), "--no-models", "--osc", f"127.0.0.1:{port}")
    mel = [m for m in messages if m.address == "/vjbridge/mel"]
    assert len(mel) > 100 and all(m.types == "f" * 64 for m in mel)
    assert all(0.0 <= v <= 1.0 for m in mel for v in m.args)
    assert max(v for m in mel for v in m.args) > 0.3  # the demo groove is loud enough to show
    entry = next(e for e in schema["signals"] if e["signal"] == "mel")
    assert entry["n"] == 64 and entry["kind"] == "spectrum" and entry["live"]
    # a run without that route computes no spectrum
    port, messages, _ = run_and_dump(["--no-models"], seconds=1.5)
    assert not any(m.address == "/vjbridge/mel" for m in messages)


def test_a_spectrum_cannot_go_to_midi(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nroutes:\n  - {signal: mel, midi: {cc: 1}}\n")
    out = subprocess.run([*VJBRIDGE, "check", str(bad)], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert out.returncode == 1
    assert "routes[0].midi: 'mel' is a spectrum" in out.stderr


def test_the_digest_follows_the_stream_not_its_descriptions():
    from bridge.mapping.validate import validate

    catalog = Catalog()
    raw = {"version": 1, "routes": [{"signal": "low", "osc": {"address": "/a"}},
                                    {"signal": "kick", "osc": {"address": "/k"}}]}
    base = describe(validate(raw, signals=catalog), catalog)
    same = describe(validate(raw, signals=catalog), catalog, mapping_name="elsewhere.yaml")
    assert base["digest"] == same["digest"] == digest(base)
    moved = json.loads(json.dumps(raw))
    moved["routes"][0]["osc"]["address"] = "/b"
    rescaled = json.loads(json.dumps(raw))
    rescaled["routes"][0]["out"] = [0, 127]
    faster = dict(raw, rate=30)
    digests = {describe(validate(m, signals=catalog), catalog)["digest"]
               for m in (moved, rescaled, faster)}
    assert len(digests) == 3 and base["digest"] not in digests
    kinds = {e["signal"]: e["kind"] for e in base["signals"]}
    assert kinds == {"low": "continuous", "kick": "trigger"}


def test_the_catalog_and_the_schema_import_with_the_standard_library_only():
    code = ("import sys; sys.modules['numpy'] = None\n"  # any numpy import now fails
            "import bridge.signals.catalog as c, bridge.runtime.stream_schema as s\n"
            "from bridge.mapping import validate as v\n"
            "cat = c.Catalog(); cat.declare_model_output('r', model='light.onnx')\n"
            "m = v({'version': 1, 'routes': [{'signal': 'r', 'osc': {'address': '/r'}}]},"
            " signals=cat)\n"
            "print(s.describe(m, cat)['signals'][0]['kind'])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "colour"
