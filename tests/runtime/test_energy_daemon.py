"""The real daemon (`vjbridge run --demo`) with a mapping routing ``energy`` and ``morph``, sending
to liblo's oscdump: both stream at the tick rate in range, morph ramps and wraps per segment,
and the daemon's own /vjbridge/_info and `vjbridge schema` list them as live; beside them the
musical signals (issue 13's six controls in one run)."""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest

from tests.runtime.test_colour_daemon import run
from tests.runtime.test_stream_schema import info_lines, schema_json

MAPPING = """\
version: 1
osc:
  td: {host: 127.0.0.1, port: 7000}
routes:
  - {signal: energy, osc: {address: /e/energy}}
  - {signal: morph, osc: {address: /e/morph}}
  - {signal: low, osc: {address: /e/low}}
  - {signal: pitch, osc: {address: /e/pitch}}
  - {signal: warmth, osc: {address: /e/warmth}}
  - {signal: roughness, osc: {address: /e/roughness}}
  - {signal: speed, osc: {address: /e/speed}, in: [0, 2], out: [0, 2]}
"""


@pytest.mark.peers
def test_run_demo_streams_energy_and_morph(tmp_path):
    mapping = tmp_path / "energy.yaml"
    mapping.write_text(MAPPING)
    port, messages, text, err = run(["--mapping", str(mapping), "--no-models",
                                     "--morph-segment", "0.5s"], seconds=4.0)
    ticks = defaultdict(dict)
    for m in messages:
        if m.address.startswith("/e/"):
            ticks[m.timetag][m.address] = m.args
    frames = [t for t in ticks.values() if len(t) == 7]
    assert len(frames) > 150, err  # ~4 s at 60 Hz, all seven in each bundle
    assert frames[-1]["/e/energy"] == (0.0,) and frames[-1]["/e/morph"] == (0.0,)  # idle, on exit
    frames = frames[:-1]
    for name in ("pitch", "warmth", "roughness"):
        values = np.array([f[f"/e/{name}"][0] for f in frames])
        assert ((values >= 0) & (values <= 1)).all() and np.ptp(values) > 0, name
    energy = np.array([f["/e/energy"][0] for f in frames])
    morph = np.array([f["/e/morph"][0] for f in frames])
    assert ((energy >= 0) & (energy <= 1)).all() and np.ptp(energy) > 0.3  # the groove's hits
    assert ((morph >= 0) & (morph <= 1)).all()
    wraps = np.flatnonzero(np.diff(morph) < -0.5)
    assert len(wraps) >= 5  # 0.5 s segments over ~4 s
    assert np.abs(np.diff(wraps) - 30).max() <= 2  # 0.5 s at 59.92 fps (a tick may be late)
    assert (morph[wraps] > 0.999).all()
    listed = {e["address"]: e for e in json.loads(info_lines(text)[0][3])["signals"]}
    assert listed["/e/energy"]["live"] and listed["/e/morph"]["live"]
    assert listed["/e/morph"]["range"] == [0.0, 1.0]
    schema = schema_json("--mapping", str(mapping), "--no-models")
    assert {"/e/energy", "/e/morph"} <= {e["address"] for e in schema["signals"]}
    assert all(listed[f"/e/{n}"]["live"] for n in ("pitch", "warmth", "roughness", "speed"))
