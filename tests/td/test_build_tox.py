"""The unmodified td_components/build_tox.py run against the stand-ins as the Textport would run it,
then the COMP it built driven like TouchDesigner drives it: an Execute DAT cooking the receiver at
each frame start, the COMP's pulses through the Parameter Execute DAT, onExit stopping the daemon."""

from __future__ import annotations

import json
import os
import socket

import pytest

from tests.td import tdstub
from tests.td.helpers import REPO, SRC, free_udp_port, wrapper_executable

BUILDER = REPO / "td_components" / "build_tox.py"


@pytest.fixture
def built(tmp_path):
    td = tdstub.TD(REPO, rate=60)
    ns = td.globals_for_textport(td.project1)
    ns["__file__"] = str(BUILDER)
    tox = REPO / "td_components" / "vjbridge.tox"
    existed = tox.exists()
    exec(compile(BUILDER.read_text(), str(BUILDER), "exec"), ns)  # noqa: S102 - as the Textport does
    comp = td.project1.op("vjbridge")
    yield td, comp, tox
    session = comp.fetch("vjbridge_session", None, search=False)
    if session is not None and hasattr(session, "close"):
        session.close()
    td.close()
    if not existed and tox.exists():
        tox.unlink()


def test_operators_and_wiring(built):
    td, comp, tox = built
    names = {c.name: c.optype.name for c in comp.children}
    assert names["receiver"] == "scriptCHOP" and names["vjbridge_out"] == "nullCHOP"
    assert names["out1"] == "outCHOP"
    assert names["vjb_frame_exec"] == "executeDAT" and names["vjb_parexec"] == "parameterexecuteDAT"
    assert names["vjbridge_log"] == "textDAT" and names["vjbridge_status"] == "textDAT"
    assert names["vjbridge_style"] == "textDAT"
    receiver = comp.op("receiver")
    assert receiver.par.callbacks.eval() is comp.op("vjb_chop_callbacks")
    assert comp.op("vjbridge_out").inputs == [receiver]
    assert comp.op("out1").inputs == [comp.op("vjbridge_out")]
    fe = comp.op("vjb_frame_exec")
    assert fe.par.framestart.eval() and fe.par.exit.eval() and fe.par.active.eval()
    pe = comp.op("vjb_parexec")
    assert pe.par.op.eval() is comp and pe.par.onpulse.eval() and pe.par.custom.eval()
    assert json.loads(tox.read_text())["name"] == "vjbridge"  # saved next to the builder


def test_every_dat_syncs_to_an_existing_file(built):
    td, comp, _ = built
    modules = [p.stem for p in SRC.glob("vjb_*.py")]
    for name in modules:
        dat = comp.op(name)
        assert dat is not None, f"no DAT for {name}.py"
        path = dat.par.file.eval()
        assert os.path.isfile(path) and os.path.samefile(path, SRC / f"{name}.py")
        assert dat.par.syncfile.eval() is True
        assert dat.text == (SRC / f"{name}.py").read_text()  # embedded copy
    comp.par.Codefolder.val = "/moved/elsewhere"
    assert comp.op("vjb_osc").par.file.eval() == "/moved/elsewhere/vjb_osc.py"


def test_parameters_are_the_ones_the_callbacks_read(built):
    import vjb_params
    td, comp, _ = built
    expected = []
    for _page, kind, name, _label, default, _extra, _help in vjb_params.all_parameters():
        expected += [f"{name}1", f"{name}2"] if kind == "float2" else [name]
    assert set(expected) <= set(comp.par.names())
    assert [p.name for p in comp.customPages] == ["Receiver", "Daemon", "Tuning", "About"]
    assert comp.par.Port.default == 7000 and comp.par.Prefix.val == "/vjbridge/"
    assert comp.par.Silence.menuNames == ["hold", "zero"]
    assert comp.par.Gainlow.normMax == 8.0 and comp.par.Bandkick2.val == 160.0
    values = vjb_params.read(comp)
    assert values["Port"] == 7000 and values["Bandkick"] == (40.0, 160.0)
    assert comp.par.Version.val == "0.1.0"
    receiver = comp.op("receiver")
    assert not vjb_params.owns_parameters(receiver)  # the COMP carries them


def test_saved_storage_is_picklable_after_cooking(built):
    td, comp, _ = built
    comp.par.Port.val = free_udp_port()
    td.frame()
    assert comp.fetch("vjbridge_session", None, search=False) is not None
    assert comp.saved_storage()["vjbridge_session"] is None  # startup value, not the sockets


@pytest.mark.peers
@pytest.mark.slow
def test_built_component_runs_the_daemon(built, tmp_path):
    td, comp, _ = built
    port = free_udp_port()
    comp.par.Port.val = port
    comp.par.Executable.val = str(wrapper_executable(tmp_path))
    comp.par.Demo.val = True
    comp.par.Controlport.val = free_udp_port()
    receiver = comp.op("receiver")
    td.frame()
    comp.par.Start.pulse()  # through the Parameter Execute DAT
    session = comp.fetch("vjbridge_session", None, search=False)
    proc = session.daemon.proc
    assert proc is not None and proc.poll() is None
    import time
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline:
        td.frame()
        values = receiver.values()
        if values.get("connected") == 1.0 and values.get("version_match") == 1.0:
            break
        time.sleep(1 / 60)
    assert values["connected"] == 1.0 and values["version_match"] == 1.0
    assert {"motion", "low", "kick", "rythm", "spectralcentroid"} <= set(values)
    assert receiver.rate == 60 and receiver.cooks > 10
    assert "listening on udp://127.0.0.1" in comp.op("vjbridge_status").text
    assert "daemon 0.1.0, schema" in comp.op("vjbridge_status").text
    td.exit()  # onExit stops the daemon this component started
    assert proc.poll() is not None and proc.returncode == 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", port))  # and released the port
