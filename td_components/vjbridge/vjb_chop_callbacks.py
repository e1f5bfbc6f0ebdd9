"""Script CHOP callbacks of the vjbridge component: one channel per signal, one sample per frame.

Why a Script CHOP: it can output exactly one sample per TouchDesigner frame at the project's rate,
so a trigger lasts one frame whatever the frame rate (an OSC In CHOP cannot latch events), and it
keeps the socket across cooks. Used two ways:
- inside vjbridge.tox, whose COMP carries the custom parameters (the Script CHOP has none);
- by hand: a Script CHOP whose callbacks DAT has File = this file and Sync to File on; press
  "Setup Parameters" for the parameters on the Script CHOP itself (defaults are used until then).
TouchDesigner APIs used (Derivative's documentation): scriptCHOP (clear, appendChan, numSamples,
rate), Channel.vals, OP.fetch/store/storeStartupValue, OP.par, OP.parent(), OP.op, OP.time,
project.cookRate, absTime.frame, DAT.text. Nothing here may raise into TouchDesigner.
"""

import os
import sys


def _add_own_folder():
    """Make the sibling vjb_*.py files importable when only this DAT exists (manual setup):
    TouchDesigner's ``import`` looks for a DAT of that name first, then the file system path."""
    try:
        path = me.par.file.eval()  # noqa: F821 - `me` is this DAT, provided by TouchDesigner
    except Exception:  # noqa: BLE001
        return
    if not path:
        return
    if not os.path.isabs(path):
        try:
            path = os.path.join(project.folder, path)  # noqa: F821 - TouchDesigner's project
        except Exception:  # noqa: BLE001
            pass
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isfile(os.path.join(folder, "vjb_session.py")) and folder not in sys.path:
        sys.path.insert(0, folder)


_add_own_folder()

import vjb_params  # noqa: E402
import vjb_session  # noqa: E402

STORAGE_KEY = "vjbridge_session"
LOG_DAT = "vjbridge_log"
STATUS_DAT = "vjbridge_status"
STYLE_DAT = "vjbridge_style"  # the daemon's /vjbridge/style: a diffusion component's prompt


def parameter_owner(scriptOp):
    """The operator whose custom parameters drive the receiver: the Script CHOP itself after
    "Setup Parameters", else its parent COMP (the .tox), else the Script CHOP (defaults)."""
    if vjb_params.owns_parameters(scriptOp):
        return scriptOp
    try:
        comp = scriptOp.parent()
    except Exception:  # noqa: BLE001
        comp = None
    if comp is not None and vjb_params.owns_parameters(comp):
        return comp
    return scriptOp


def session_for(owner):
    """The owner's session, kept in its storage across cooks (and across reloads of this file)."""
    current = None
    try:
        current = owner.fetch(STORAGE_KEY, None, search=False)
    except Exception:  # noqa: BLE001
        current = None
    if isinstance(current, vjb_session.Session) and not current.closed:
        return current
    daemon = None
    if hasattr(current, "frame") and hasattr(current, "close") and not getattr(current, "closed", True):
        daemon = getattr(current, "daemon", None)  # this file was reloaded: keep the process
        try:
            current.close(stop_daemon=False)
        except Exception:  # noqa: BLE001
            pass
    session = vjb_session.Session(daemon=daemon)
    try:
        owner.storeStartupValue(STORAGE_KEY, None)  # a reopened project starts without a session
    except Exception:  # noqa: BLE001
        pass
    owner.store(STORAGE_KEY, session)
    return session


def _frame_id():
    try:
        return absTime.frame  # noqa: F821 - TouchDesigner's absolute frame counter
    except Exception:  # noqa: BLE001
        return None


def _rate(scriptOp):
    for get in (lambda: scriptOp.time.rate, lambda: project.cookRate):  # noqa: F821
        try:
            rate = float(get())
            if rate > 0:
                return rate
        except Exception:  # noqa: BLE001
            continue
    return 60.0


def _write_dats(scriptOp, session):
    try:
        comp = scriptOp.parent()
    except Exception:  # noqa: BLE001
        return
    versions = (session.daemon.lines_version, session.messages_version)
    log_dat = comp.op(LOG_DAT) if comp is not None else None
    if log_dat is not None and getattr(session, "_log_written", None) != versions:
        log_dat.text = session.log_text()
        session._log_written = versions
    status_dat = comp.op(STATUS_DAT) if comp is not None else None
    if status_dat is not None:
        line = session.status_line()
        if getattr(session, "_status_written", None) != line:
            status_dat.text = line
            session._status_written = line
    style_dat = comp.op(STYLE_DAT) if comp is not None else None
    receiver = session.receiver
    if style_dat is not None and receiver is not None and receiver.style \
            and getattr(session, "_style_written", None) != receiver.style:
        style_dat.text = receiver.style
        session._style_written = receiver.style


def onSetupParameters(scriptOp):
    vjb_params.setup_parameters(scriptOp)


def onPulse(par):
    """Start / Stop / Restart / Reset, from the Script CHOP's own pulses or (through the .tox's
    Parameter Execute DAT) the COMP's."""
    try:
        owner = par.owner
        session = session_for(owner)
        session.apply(vjb_params.read(owner))
        session.pulse(par.name)
    except Exception as exc:  # noqa: BLE001
        print(f"vjbridge: {par.name} failed: {exc}")


def onCook(scriptOp):
    scriptOp.clear()
    scriptOp.numSamples = 1
    scriptOp.rate = _rate(scriptOp)
    try:
        owner = parameter_owner(scriptOp)
        session = session_for(owner)
        chans = session.frame(_frame_id(), vjb_params.read(owner))
    except Exception as exc:  # noqa: BLE001 - one line, and the status channel says so
        print(f"vjbridge: receiver error: {exc}")
        chans = [("connected", 0.0)]
        session = None
    for name, value in chans:
        chan = scriptOp.appendChan(name)
        chan.vals = [value]  # Channel.vals: "get or set the full list" (one sample)
    if session is not None:
        try:
            _write_dats(scriptOp, session)
        except Exception as exc:  # noqa: BLE001
            print(f"vjbridge: cannot update the log DAT: {exc}")


def close_session(owner, stop_daemon=True):
    """Close the owner's session (socket, control socket, and the daemon we started)."""
    try:
        session = owner.fetch(STORAGE_KEY, None, search=False)
    except Exception:  # noqa: BLE001
        return
    if hasattr(session, "close"):
        session.close(stop_daemon=stop_daemon)
    try:
        owner.unstore(STORAGE_KEY)
    except Exception:  # noqa: BLE001
        pass
