"""Build vjbridge.tox inside TouchDesigner (no open tool can write a .tox without it).

Run from the Textport (Alt+T / Dialogs > Textport), with the path of this file:

    p = r'C:/path/to/vjbridge/td_components/build_tox.py'; exec(open(p).read(), dict(globals(), __file__=p))

It creates a Base COMP ``vjbridge`` in /project1 (or in ``VJB_TARGET`` if you define it first),
replacing an earlier one, with:
- the custom parameters of vjbridge/vjb_params.py (Receiver, Daemon, Tuning pages) and an About page
  whose Code Folder holds the folder of the .py files;
- one Text DAT per vjbridge/vjb_*.py module, named like the module so ``import`` finds it, its File
  parameter pointing into Code Folder and Sync to File on (a copy of the text is embedded too);
- the Script CHOP ``receiver`` (callbacks: vjb_chop_callbacks) -> Null CHOP ``vjbridge_out`` ->
  Out CHOP ``out1`` (the COMP's output);
- an Execute DAT (vjb_frame_exec.py: cook the receiver at every frame start, stop the daemon on
  exit), a Parameter Execute DAT (vjb_parexec.py: the COMP's pulses), and the Text DATs
  ``vjbridge_log`` (daemon log tail), ``vjbridge_status`` and ``vjbridge_style`` (the style
  description the daemon sends with ``--genre``, for a diffusion component's prompt);
and saves it as vjbridge.tox next to this file. Only documented calls are used: COMP.create,
OP.destroy, OP.appendCustomPage, Page.append*, Par.val/expr, Connector.connect, COMP.save.
"""

import os
import sys

MODULES = ("vjb_osc", "vjb_info", "vjb_channels", "vjb_receiver", "vjb_daemon", "vjb_control",
           "vjb_params", "vjb_session", "vjb_chop_callbacks")
FILE_EXPR = "parent().par.Codefolder.eval() + '/{name}.py'"


def _here():
    path = globals().get("__file__")
    if not path:
        raise RuntimeError("build_tox.py needs its own path: exec(open(p).read(), "
                           "dict(globals(), __file__=p)) with p = the path of build_tox.py")
    return os.path.dirname(os.path.abspath(path))


def _externalise(dat, code_folder, name):
    """File parameter into Code Folder, Sync to File on, and the text embedded as a fallback
    (a DAT type without a File page in an older build keeps the embedded text only)."""
    with open(os.path.join(code_folder, name + ".py"), encoding="utf-8") as f:
        dat.text = f.read()
    if getattr(dat.par, "file", None) is not None:
        dat.par.file.expr = FILE_EXPR.format(name=name)
    if getattr(dat.par, "syncfile", None) is not None:
        dat.par.syncfile = True


def build(target=None):
    here = _here()
    code_folder = os.path.join(here, "vjbridge").replace("\\", "/")
    if code_folder not in sys.path:
        sys.path.insert(0, code_folder)
    import vjb_info
    import vjb_params

    target = target or globals().get("VJB_TARGET") or op("/project1") or root  # noqa: F821
    old = target.op("vjbridge")
    if old is not None:
        old.destroy()
    comp = target.create(baseCOMP, "vjbridge")  # noqa: F821 - TouchDesigner's OP type

    vjb_params.setup_parameters(comp)
    about = comp.appendCustomPage("About")
    folder_par = about.appendStr("Codefolder", label="Code Folder")[0]
    folder_par.val = code_folder
    folder_par.default = code_folder
    folder_par.help = "folder of the vjb_*.py files the DATs sync to"
    version_par = about.appendStr("Version", label="Component Version")[0]
    version_par.val = vjb_info.VERSION
    version_par.default = vjb_info.VERSION

    for name in MODULES:
        _externalise(comp.create(textDAT, name), code_folder, name)  # noqa: F821

    receiver = comp.create(scriptCHOP, "receiver")  # noqa: F821
    receiver.par.callbacks = comp.op("vjb_chop_callbacks")
    out_null = comp.create(nullCHOP, "vjbridge_out")  # noqa: F821
    out_null.inputConnectors[0].connect(receiver)
    out_chop = comp.create(outCHOP, "out1")  # noqa: F821
    out_chop.inputConnectors[0].connect(out_null)

    frame_exec = comp.create(executeDAT, "vjb_frame_exec")  # noqa: F821
    _externalise(frame_exec, code_folder, "vjb_frame_exec")
    frame_exec.par.framestart = True
    frame_exec.par.exit = True
    frame_exec.par.active = True

    parexec = comp.create(parameterexecuteDAT, "vjb_parexec")  # noqa: F821
    _externalise(parexec, code_folder, "vjb_parexec")
    parexec.par.op.expr = "parent()"
    parexec.par.pars = "*"
    parexec.par.custom = True
    parexec.par.builtin = False
    parexec.par.valuechange = False
    parexec.par.onpulse = True
    parexec.par.active = True

    comp.create(textDAT, "vjbridge_log").text = "vjbridge daemon log (press Start)\n"  # noqa: F821
    comp.create(textDAT, "vjbridge_status").text = "not started\n"  # noqa: F821
    comp.create(textDAT, "vjbridge_style").text = ""  # noqa: F821  (run --genre's style prompt)

    tox = os.path.join(here, "vjbridge.tox")
    comp.save(tox)
    print(f"vjbridge: built {comp.path} and saved {tox}")
    return comp


if "baseCOMP" in globals() and "op" in globals():
    built = build()
else:
    print("build_tox.py runs inside TouchDesigner (Textport): see td_components/README.md")
