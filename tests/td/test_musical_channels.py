"""The component with the musical mapping from a real daemon: a channel for each musical signal
(pitch, warmth, roughness, speed) and the palette colours as three channels each, also with the
Spectrum toggle off (a colour is not a spectrum); with ``--genre``, the style description in the
``vjbridge_style`` Text DAT and the genre on the status line."""

from __future__ import annotations

import pytest

from bridge.genres import STYLES
from tests.td.helpers import Daemon, Project, Tee, free_udp_port, run

pytestmark = [pytest.mark.peers, pytest.mark.slow]


def test_musical_mapping_channels():
    shown = Project(30, free_udp_port())
    hidden = Project(60, free_udp_port(), Spectrum=False)
    style_dat = shown.td.project1.create(shown.td.optypes()["textDAT"], "vjbridge_style")
    tee = Tee([shown.chop.par.Port.val, hidden.chop.par.Port.val])
    daemon = Daemon(tee.port, "--mapping", "musical", "--no-models", "--genre", "jazz",
                    "--duration", "8")
    try:
        run([shown, hidden], 90.0, until=lambda: daemon.proc.poll() is not None)
        run([shown, hidden], 0.3)
        status = shown.status_dat.text
    finally:
        daemon.stop()
        tee.close()
        for p in (shown, hidden):
            p.close()
    for project in (shown, hidden):
        live = [f for f in project.frames if f.get("connected") == 1.0 and "speed" in f]
        assert len(live) > 4 * project.fps, "\n".join(daemon.output[-20:])
        names = set(live[-1])
        musical = {"pitch", "warmth", "roughness", "speed"}
        colours = {f"{c}{i}" for c in ("palette", "pitchcolour") for i in range(3)}
        assert musical | colours <= names, sorted(names)
        for name in musical | colours:
            hi = 2.0 if name == "speed" else 1.0
            assert all(0.0 <= f[name] <= hi for f in live if name in f), name
        assert len({round(f["warmth"], 3) for f in live}) > 20
        speeds = [f["speed"] for f in live]
        assert speeds[0] == pytest.approx(1.0)
        assert any(abs(s - 124 / 120) < 0.01 for s in speeds[-2 * int(project.fps):])
    assert style_dat.text == STYLES["jazz"]
    assert "genre jazz" in status
    assert "genre" not in shown.frames[-1] and "style" not in shown.frames[-1]  # not channels
