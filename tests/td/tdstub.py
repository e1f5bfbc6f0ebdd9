"""Small stand-ins of TouchDesigner's Python objects, written from Derivative's documentation, so
CI can execute the unmodified component files without TouchDesigner. Only what the component uses
is modelled, with the documented names and behaviour:

- OP class (https://docs.derivative.ca/OP_Class): name, path, par, parent(n), op(path), storage,
  store(key, value), fetch(key, default, search=True, storeDefault=False), unstore(key),
  storeStartupValue(key, value), time (.rate), cook(force=False), customPages, appendCustomPage.
- Storage (https://derivative.ca/UserGuide/Storage): a per-operator dict, pickled with the file
  (``save`` really pickles it, so an unpicklable session would fail here as it would there).
- COMP class (https://docs.derivative.ca/COMP_Class): create(OPtype, name), children, save(path).
- Page class (https://docs.derivative.ca/Page_Class): appendInt/appendFloat(name, label=None,
  size=1, order=None, replace=True), appendStr, appendToggle, appendPulse, appendMenu; each returns
  a ParGroup (the tuplet of Pars on one line). Custom parameter names must start with an upper-case
  letter followed by lower-case letters or digits (https://docs.derivative.ca/Custom_Parameters);
  a size-2 float gets the suffixes 1 and 2 (Page.styles['Float'].suffixes).
- Par class (https://docs.derivative.ca/Par_Class): name, owner, val, eval(), default, normMin,
  normMax, min, max, clampMin, clampMax, menuNames, menuLabels, help, label, expr, pulse().
- Script CHOP (https://derivative.ca/UserGuide/Script_CHOP, scriptCHOP_Class, CHOP_Class,
  https://derivative.ca/UserGuide/Channel_Class): callbacks parameter, clear(), appendChan(name),
  numSamples, rate, numChans, chans(), [name]; Channel vals, [i] get/set.
- Text DAT (https://docs.derivative.ca/Text_DAT): text, write(), clear(), par.file, par.syncfile.
- Execute DAT (https://docs.derivative.ca/Execute_DAT): par.active/framestart/exit; onFrameStart,
  onExit. Parameter Execute DAT (https://derivative.ca/UserGuide/Parameter_Execute_DAT): par.op,
  pars, valuechange, onpulse, custom, builtin; onPulse(par), onValueChange(par, prev).
- Null CHOP (https://derivative.ca/UserGuide/Null_CHOP): par.cooktype.
- DAT modules (https://docs.derivative.ca/MOD_Class): ``import name`` finds a DAT of that name in
  the component first, then the file system; the module's globals hold ``me`` (the DAT), ``op``,
  ``parent``, ``project``, ``absTime`` and the OP type objects.
"""

from __future__ import annotations

import importlib.util
import json
import pickle
import re
import sys
import types
from pathlib import Path

_CUSTOM_NAME = re.compile(r"^[A-Z][a-z0-9]*$")


class OPType:
    def __init__(self, name, family):
        self.name = name
        self.family = family

    def __repr__(self):
        return self.name


class Par:
    def __init__(self, owner, name, style="Float", value=0, label=None, custom=True):
        self.owner = owner
        self.name = name
        self.style = style
        self.label = label or name
        self.custom = custom
        self.val = value
        self.default = value
        self.normMin = 0.0
        self.normMax = 1.0
        self.min = 0.0
        self.max = 1.0
        self.clampMin = False
        self.clampMax = False
        self.menuNames = []
        self.menuLabels = []
        self.help = ""
        self.expr = ""  # an expression string, evaluated by eval() when set
        self.pulses = 0

    def eval(self):
        if self.expr:
            return eval(self.expr, self.owner.expression_namespace())  # noqa: S307 - test stand-in
        if isinstance(self.val, OP):
            return self.val
        return self.val

    def pulse(self):
        self.pulses += 1
        self.owner.td.pulse(self)

    def __repr__(self):
        return f"Par({self.owner.path}.{self.name}={self.val!r})"


class ParCollection:
    """``op.par.Name``: a missing parameter raises AttributeError (callers use getattr)."""

    def __init__(self):
        object.__setattr__(self, "_pars", {})

    def _add(self, par):
        self._pars[par.name] = par

    def __getattr__(self, name):
        try:
            return self._pars[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self._pars[name].val = value

    def names(self):
        return list(self._pars)


class ParGroup(list):
    """The tuplet of parameters a Page.append* call creates (indexable: group[0])."""


class Page:
    def __init__(self, owner, name):
        self.owner = owner
        self.name = name
        self.pars = []

    def _append(self, name, style, default, label, size=1, suffixes=None):
        if not _CUSTOM_NAME.match(name):
            raise ValueError(f"invalid custom parameter name {name!r}")
        names = [name] if size == 1 else [f"{name}{s}" for s in (suffixes or "1234")[:size]]
        group = ParGroup()
        for pname in names:
            if hasattr(self.owner.par, pname):
                raise ValueError(f"parameter {pname} already exists on {self.owner.path}")
            par = Par(self.owner, pname, style, default, label)
            par.page = self
            self.owner.par._add(par)
            self.pars.append(par)
            group.append(par)
        return group

    def appendInt(self, name, label=None, size=1, order=None, replace=True):
        return self._append(name, "Int", 0, label, size)

    def appendFloat(self, name, label=None, size=1, order=None, replace=True):
        return self._append(name, "Float", 0.0, label, size)

    def appendStr(self, name, label=None, order=None, replace=True):
        return self._append(name, "Str", "", label)

    def appendToggle(self, name, label=None, order=None, replace=True):
        return self._append(name, "Toggle", False, label)

    def appendPulse(self, name, label=None, order=None, replace=True):
        return self._append(name, "Pulse", False, label)

    def appendMenu(self, name, label=None, order=None, replace=True):
        return self._append(name, "Menu", "", label)


class TimeCOMP:
    def __init__(self, rate):
        self.rate = rate


class Channel:
    def __init__(self, owner, name, n):
        self.owner = owner
        self.name = name
        self._vals = [0.0] * n
        self.index = len(owner._chans)

    @property
    def vals(self):
        return list(self._vals)

    @vals.setter
    def vals(self, values):
        values = list(values)
        if len(values) != len(self._vals):
            raise ValueError(f"channel {self.name}: {len(values)} values for "
                             f"{len(self._vals)} samples")
        for i, v in enumerate(values):
            self[i] = v

    def __getitem__(self, i):
        return self._vals[i]

    def __setitem__(self, i, value):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise TypeError(f"channel {self.name}: sample must be a number, got {value!r}")
        self._vals[i] = float(value)

    def __len__(self):
        return len(self._vals)


class Connector:
    """OP.inputConnectors[i] / outputConnectors[i] (https://docs.derivative.ca/Connector_Class)."""

    def __init__(self, owner, index):
        self.owner = owner
        self.index = index
        self.connections = []

    def connect(self, target):
        other = target.outputConnectors[0] if isinstance(target, OP) else target
        self.connections = [other]
        other.connections.append(self)


class OP:
    optype = OPType("op", "OP")

    def __init__(self, td, parent_, name):
        self.td = td
        self._parent = parent_
        self.name = name
        self.par = ParCollection()
        self.storage = {}
        self.customPages = []
        self._startup = {}
        self.cooks = 0
        self.text = ""
        self.inputConnectors = [Connector(self, 0)]
        self.outputConnectors = [Connector(self, 0)]
        self.destroyed = False

    @property
    def inputs(self):
        return [c.owner for conn in self.inputConnectors for c in conn.connections]

    def destroy(self):
        self.destroyed = True
        if self._parent is not None:
            self._parent.children.remove(self)

    @property
    def path(self):
        if self._parent is None:
            return "/"
        base = self._parent.path
        return (base.rstrip("/") + "/" + self.name) if base != "/" else "/" + self.name

    @property
    def time(self):
        return self.td.time

    def parent(self, n=1):
        node = self
        for _ in range(n):
            if node._parent is None:
                return None
            node = node._parent
        return node

    def op(self, path):
        comp = self if isinstance(self, COMP) else self._parent
        return self.td.resolve(comp, path)

    def _builtin(self, name, value, style="Str"):
        par = Par(self, name, style, value, custom=False)
        self.par._add(par)
        return par

    # Storage (OP_Class "Storage" section)
    def store(self, key, value):
        self.storage[key] = value
        return value

    def fetch(self, key, default=None, search=True, storeDefault=False):
        node = self
        while node is not None:
            if key in node.storage:
                return node.storage[key]
            if not search:
                break
            node = node._parent
        if storeDefault:
            self.storage[key] = default
        return default

    def unstore(self, key):
        self.storage.pop(key, None)
        self._startup.pop(key, None)

    def storeStartupValue(self, key, value):
        self._startup[key] = value

    def saved_storage(self):
        """What a saved file holds: startup values replace live ones; everything is pickled."""
        data = dict(self.storage)
        data.update(self._startup)
        return pickle.loads(pickle.dumps(data))

    def appendCustomPage(self, name):
        page = Page(self, name)
        self.customPages.append(page)
        return page

    def cook(self, force=False, recurse=False):
        self.cooks += 1

    def expression_namespace(self):
        return self.td.namespace(self)

    def __repr__(self):
        return f"{type(self).__name__}({self.path})"


class COMP(OP):
    optype = OPType("baseCOMP", "COMP")

    def __init__(self, td, parent_, name):
        super().__init__(td, parent_, name)
        self.children = []

    def create(self, optype, name=None, initialize=True):
        cls = self.td.classes[optype.name]
        if name is None:
            name = f"{optype.name.rstrip('CHOPDATCOMP').lower()}1"
        if self.op(name) is not None:
            raise ValueError(f"{self.path} already has a child named {name}")
        child = cls(self.td, self, name)
        self.children.append(child)
        return child

    def save(self, filepath, createFolders=False):
        """Write what a .tox would hold, as JSON: operators, parameters, DAT files, storage."""
        def describe(node):
            pars = {n: getattr(node.par, n) for n in node.par.names()}
            out = {"type": node.optype.name, "name": node.name,
                   "pars": {n: (p.expr and {"expr": p.expr}) or repr(p.val) for n, p in pars.items()},
                   "storage": repr(node.saved_storage())}
            if isinstance(node, COMP):
                out["children"] = [describe(c) for c in node.children]
            return out
        Path(filepath).write_text(json.dumps(describe(self), indent=1))
        return filepath


class ScriptCHOP(OP):
    optype = OPType("scriptCHOP", "CHOP")

    def __init__(self, td, parent_, name):
        super().__init__(td, parent_, name)
        self._builtin("callbacks", None, "DAT")
        self._chans = []
        self.numSamples = 1
        self.rate = 60.0
        self.start = 0

    # CHOP / scriptCHOP members
    def clear(self):
        self._chans = []

    def appendChan(self, name):
        if not re.match(r"^[A-Za-z0-9_]+$", name):
            raise ValueError(f"invalid channel name {name!r}")
        if any(c.name == name for c in self._chans):
            raise ValueError(f"duplicate channel {name!r}")
        chan = Channel(self, name, int(self.numSamples))
        self._chans.append(chan)
        return chan

    @property
    def numChans(self):
        return len(self._chans)

    def chans(self, *patterns):
        return list(self._chans)

    def __getitem__(self, key):
        if isinstance(key, int):
            return self._chans[key]
        for chan in self._chans:
            if chan.name == key:
                return chan
        return None

    def values(self):
        return {c.name: c.vals[0] for c in self._chans}

    def callbacks_module(self):
        dat = self.par.callbacks.eval()
        return self.td.module_of(dat)

    def cook(self, force=False, recurse=False):
        super().cook(force)
        self.callbacks_module().onCook(self)

    def setup_parameters(self):
        """The Script CHOP's "Setup Parameters" pulse (par setuppars)."""
        self.callbacks_module().onSetupParameters(self)


class TextDAT(OP):
    optype = OPType("textDAT", "DAT")

    def __init__(self, td, parent_, name):
        super().__init__(td, parent_, name)
        self._builtin("file", "")
        self._builtin("syncfile", False, "Toggle")
        self.writes = 0

    def write(self, *args):
        self.text += "".join(str(a) for a in args)
        self.writes += 1

    def clear(self):
        self.text = ""

    def __setattr__(self, name, value):
        if name == "text" and "writes" in self.__dict__:
            self.__dict__["writes"] += 1
        object.__setattr__(self, name, value)


class ExecuteDAT(TextDAT):
    optype = OPType("executeDAT", "DAT")

    def __init__(self, td, parent_, name):
        super().__init__(td, parent_, name)
        for flag in ("active", "start", "create", "exit", "framestart", "frameend"):
            self._builtin(flag, flag == "active", "Toggle")


class ParameterExecuteDAT(TextDAT):
    optype = OPType("parameterexecuteDAT", "DAT")

    def __init__(self, td, parent_, name):
        super().__init__(td, parent_, name)
        self._builtin("active", True, "Toggle")
        self._builtin("op", "")
        self._builtin("pars", "*")
        for flag in ("valuechange", "onpulse", "custom", "builtin"):
            self._builtin(flag, flag in ("valuechange", "custom"), "Toggle")


class NullCHOP(OP):
    optype = OPType("nullCHOP", "CHOP")

    def __init__(self, td, parent_, name):
        super().__init__(td, parent_, name)
        self._builtin("cooktype", "auto", "Menu")


class OutCHOP(NullCHOP):
    optype = OPType("outCHOP", "CHOP")


class AbsTime:
    def __init__(self):
        self.frame = 0
        self.seconds = 0.0


class Project:
    def __init__(self, folder, rate):
        self.folder = str(folder)
        self.cookRate = rate


class TD:
    """One TouchDesigner process: root '/', /project1, absTime, project, DAT modules."""

    classes = {c.optype.name: c for c in (COMP, ScriptCHOP, TextDAT, ExecuteDAT,
                                           ParameterExecuteDAT, NullCHOP, OutCHOP)}

    def __init__(self, folder, rate=60.0):
        self.root = COMP(self, None, "")
        self.project1 = self.root.create(self.optypes()["baseCOMP"], "project1")
        self.absTime = AbsTime()
        self.project = Project(folder, rate)
        self.time = TimeCOMP(rate)
        self.modules = {}
        self.printed = []
        self._finder = _DatFinder(self)
        sys.meta_path.insert(0, self._finder)

    def close(self):
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)

    def find_dat(self, name):
        for node in self.walk():
            if isinstance(node, TextDAT) and node.name == name and node.par.file.eval():
                return node
        return None

    @staticmethod
    def optypes():
        return {name: cls.optype for name, cls in TD.classes.items()}

    def resolve(self, comp, path):
        if path is None:
            return None
        if isinstance(path, OP):
            return path
        path = str(path)
        node = self.root if path.startswith("/") else comp
        for part in [p for p in path.split("/") if p]:
            if part == "..":
                node = node._parent
            elif isinstance(node, COMP):
                node = next((c for c in node.children if c.name == part), None)
            else:
                return None
            if node is None:
                return None
        return node

    def print(self, *args, **kwargs):
        self.printed.append(" ".join(str(a) for a in args))

    def namespace(self, me):
        comp = me if isinstance(me, COMP) else me._parent
        ns = {"me": me, "op": lambda path: self.resolve(comp, path),
              "parent": lambda n=1: me.parent(n), "project": self.project,
              "absTime": self.absTime, "root": self.root, "print": self.print}
        ns.update(self.optypes())
        return ns

    def module_of(self, dat):
        """Load a DAT's file as a module the way TouchDesigner runs DAT code: module globals hold
        me/op/parent/project/absTime; ``import <dat name>`` from another DAT finds this one."""
        if dat in self.modules:
            return self.modules[dat]
        path = dat.par.file.eval()
        if not path:
            raise RuntimeError(f"{dat.path} has no file")
        name = dat.name
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        module.__dict__.update(self.namespace(dat))
        saved = sys.modules.get(name)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            if saved is not None:
                sys.modules[name] = saved
            else:
                sys.modules.pop(name, None)
            raise
        self.modules[dat] = module
        return module

    def pulse(self, par):
        """Par.pulse(): the owner's Script CHOP callbacks (its own pulses) or every active
        Parameter Execute DAT watching the owner with On Pulse on."""
        owner = par.owner
        if isinstance(owner, ScriptCHOP):
            owner.callbacks_module().onPulse(par)
        for dat in self.walk():
            if isinstance(dat, ParameterExecuteDAT) and dat.par.active.eval() \
                    and dat.par.onpulse.eval() and dat.op(dat.par.op.eval()) is owner:
                self.module_of(dat).onPulse(par)

    def walk(self, node=None):
        node = node or self.root
        yield node
        for child in getattr(node, "children", []):
            yield from self.walk(child)

    def frame(self):
        """One TouchDesigner frame: absTime advances, Execute DATs run onFrameStart."""
        self.absTime.frame += 1
        self.absTime.seconds = self.absTime.frame / self.time.rate
        for dat in list(self.walk()):
            if isinstance(dat, ExecuteDAT) and dat.par.active.eval() and dat.par.framestart.eval():
                self.module_of(dat).onFrameStart(self.absTime.frame)

    def exit(self):
        for dat in list(self.walk()):
            if isinstance(dat, ExecuteDAT) and dat.par.active.eval() and dat.par.exit.eval():
                self.module_of(dat).onExit()

    def globals_for_textport(self, comp):
        """What ``exec(open(p).read(), dict(globals(), __file__=p))`` sees in the Textport."""
        ns = self.namespace(comp)
        ns["__name__"] = "__main__"
        return ns


class _DatLoader:
    def __init__(self, td, dat):
        self.td = td
        self.dat = dat

    def create_module(self, spec):
        return self.td.module_of(self.dat)

    def exec_module(self, module):
        return None


class _DatFinder:
    """``import name``: a DAT of that name first (TouchDesigner's module-on-demand), else the
    regular file system search."""

    def __init__(self, td):
        self.td = td

    def find_spec(self, fullname, path=None, target=None):
        dat = self.td.find_dat(fullname)
        if dat is None:
            return None
        return importlib.util.spec_from_loader(fullname, _DatLoader(self.td, dat))


def fresh_modules():
    """Forget the component's modules between tests (TouchDesigner starts clean each launch)."""
    for name in [n for n in sys.modules if n.startswith("vjb_")]:
        del sys.modules[name]
