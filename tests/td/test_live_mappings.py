"""The component with the other mappings a TouchDesigner user runs, from a real daemon: the mel
spectrum route (64 channels) and the palette-audioAnalysis drop-in mapping (/low ... /rythm)."""

from __future__ import annotations

import pytest

from tests.td.helpers import REPO, Daemon, Project, Tee, free_udp_port, run

pytestmark = [pytest.mark.peers, pytest.mark.slow]


def test_spectrum_and_audioanalysis_mappings(tmp_path):
    mel_mapping = tmp_path / "with-mel.yaml"
    mel_mapping.write_text((REPO / "mappings" / "default.yaml").read_text()
                           + "  - {signal: mel, osc: {address: /vjbridge/mel}}\n")
    spectrum = Project(30, free_udp_port())
    hidden = Project(30, free_udp_port(), Spectrum=False)
    palette = Project(24, free_udp_port())
    tee_mel = Tee([spectrum.chop.par.Port.val, hidden.chop.par.Port.val])
    tee_aa = Tee([palette.chop.par.Port.val])
    daemons = [Daemon(tee_mel.port, "--mapping", str(mel_mapping), "--duration", "6"),
               Daemon(tee_aa.port, "--mapping",
                      str(REPO / "mappings" / "touchdesigner-audioanalysis.yaml"),
                      "--duration", "6")]
    try:
        run([spectrum, hidden, palette], 90.0,
            until=lambda: all(d.proc.poll() is not None for d in daemons))
        run([spectrum, hidden, palette], 0.3)
    finally:
        for d in daemons:
            d.stop()
        tee_mel.close()
        tee_aa.close()
        for p in (spectrum, hidden, palette):
            p.close()

    live = [f for f in spectrum.frames if f.get("connected") == 1.0 and "mel0" in f]
    assert len(live) > 60
    mel = [n for n in live[-1] if n.startswith("mel")]
    assert mel == [f"mel{i}" for i in range(64)]
    assert all(0.0 <= f[n] <= 1.0 for f in live for n in mel)
    assert max(f["mel5"] for f in live) > 0.2  # the groove's low bands really move
    assert not any(n.startswith("mel") for f in hidden.frames for n in f)
    assert "motion" in hidden.frames[-1]

    frames = [f for f in palette.frames if f.get("connected") == 1.0]
    assert len(frames) > 48
    names = set(frames[-1])
    assert {"low", "mid", "high", "spectralcentroid", "kick", "snare", "rythm"} <= names
    assert "spectralcentroid_hz" not in names and "beat" not in names
    assert all(0.0 <= f["spectralcentroid"] <= 1.0 for f in frames)
    assert max(f["spectralcentroid"] for f in frames) > 0.001
    for address in ("/kick", "/snare", "/rythm"):
        name = address[1:]
        sent = tee_aa.count(address)
        assert sent > 0 or name == "rythm"
        assert sum(palette.series(name)) == sent == palette.frames[-1][f"{name}_count"]
    assert palette.frames[-1]["version_match"] == 1.0
