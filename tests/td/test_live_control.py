"""Live tuning against the real daemon's control port: the component starts ``vjbridge run
--control``, its Tuning parameters reach the daemon, the daemon's acknowledgements come back, an
output rate change is visible in packets per second, and a refused mapping is shown."""

from __future__ import annotations

import statistics

import pytest

from tests.td.helpers import REPO, Project, free_udp_port, run, wrapper_executable

pytestmark = [pytest.mark.peers, pytest.mark.slow]


def test_tuning_reaches_the_running_daemon(tmp_path):
    control = free_udp_port()
    p = Project(30, free_udp_port(), Executable=str(wrapper_executable(tmp_path)), Demo=True,
                Controlport=control)
    bad = tmp_path / "broken.yaml"
    bad.write_text("version: 1\nroutes: [this is not a route]\n")
    try:
        p.cook()
        p.chop.par.Start.pulse()
        session = p.session()
        run([p], 60.0, until=lambda: p.frames[-1].get("connected") == 1.0
            and session.receiver.info is not None)
        assert session.receiver.info.control == ("127.0.0.1", control)  # announced in _info
        assert session.control.target == ("127.0.0.1", control)
        tuning = {"Gainlow": 2.0, "Gainmid": 0.5, "Gainhigh": 3.0, "Thresholdkick": 9.0,
                  "Thresholdsnare": 4.0, "Bandkick1": 50.0, "Bandkick2": 150.0,
                  "Bandsnare1": 1200.0, "Bandsnare2": 4000.0, "Bandsmooth": 0.3,
                  "Outputrate": 30.0}
        for name, value in tuning.items():
            getattr(p.chop.par, name).val = value
        run([p], 10.0, until=lambda: session.control.acks >= 9)
        # every Tuning value the component sends is one the daemon accepts
        assert session.control.acks == 9 and session.control.refusals == 0, \
            session.control.last_refusal
        assert not session.control.problems
        run([p], 2.5)
        pps = statistics.median(f["packets_per_sec"] for f in p.frames[-30:])
        # the daemon now ticks at 30 Hz, plus the fast triggers' event packets sent ahead of their
        # tick (9 a second on the demo groove at the default thresholds, more with this snare
        # threshold of 4 dB: 51.5 seen under load); at 60 Hz the ticks alone would be 60
        assert 15 <= pps < 60, pps  # under load (7-10) 23 was seen
        p.chop.par.Livemapping.val = str(bad)
        run([p], 10.0, until=lambda: session.control.refusals >= 1)
        assert "/vjbridge/control/mapping" in session.control.last_refusal
        assert "refused: /vjbridge/control/mapping" in p.status_dat.text
        assert p.frames[-1]["connected"] == 1.0  # the daemon kept running on its old mapping
        palette = REPO / "mappings" / "touchdesigner-audioanalysis.yaml"
        p.chop.par.Livemapping.val = str(palette)
        run([p], 10.0, until=lambda: session.receiver.info is not None
            and "audioanalysis" in session.receiver.info.mapping)
        assert "audioanalysis" in session.receiver.info.mapping, session.receiver.info.mapping
        before = len(p.frames)
        run([p], 1.5)
        after = p.frames[before:]
        assert all(f["connected"] == 1.0 for f in after)  # still sent to the component's port
        assert {"rythm", "spectralcentroid"} <= set(after[-1])
        assert 0.0 <= min(f["spectralcentroid"] for f in after)
        assert max(f["spectralcentroid"] for f in after) <= 1.0
        p.chop.par.Stop.pulse()
        run([p], 10.0, until=lambda: session.daemon.proc is None)
    finally:
        p.close()
