"""Live tuning against the real daemon's control port: the component starts ``vjbridge run
--control``, its Tuning parameters reach the daemon, the daemon's acknowledgements come back, an
output rate change is visible in packets per second, and a refused mapping is shown."""

from __future__ import annotations

import statistics

import pytest

from tests.td.helpers import Project, free_udp_port, run, wrapper_executable

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
        run([p], 25.0, until=lambda: p.frames[-1].get("connected") == 1.0
            and session.receiver.info is not None)
        assert session.receiver.info.control == ("127.0.0.1", control)  # announced in _info
        assert session.control.target == ("127.0.0.1", control)
        p.chop.par.Gainlow.val = 2.0
        p.chop.par.Outputrate.val = 30.0
        run([p], 10.0, until=lambda: session.control.acks >= 2)
        assert session.control.acks >= 2 and session.control.last_refusal == ""
        run([p], 2.5)
        pps = statistics.median(f["packets_per_sec"] for f in p.frames[-30:])
        assert 24 <= pps <= 36, pps  # the daemon now ticks at 30 Hz
        p.chop.par.Livemapping.val = str(bad)
        run([p], 10.0, until=lambda: session.control.refusals >= 1)
        assert "/vjbridge/control/mapping" in session.control.last_refusal
        assert "refused: /vjbridge/control/mapping" in p.status_dat.text
        assert p.frames[-1]["connected"] == 1.0  # the daemon kept running on its old mapping
        p.chop.par.Stop.pulse()
        run([p], 10.0, until=lambda: session.daemon.proc is None)
    finally:
        p.close()
