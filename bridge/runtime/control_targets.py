"""What live controls act on in a running pipeline, in two halves: ``prepare`` (the control thread:
anything slow) and ``apply`` (the engine thread, between blocks: assignments only).

Why the split: a redrawn trigger band needs a filterbank and an FFT to find its full-scale
reference, and a mapping switch needs a file read, YAML parsed and every route validated; none
of that may run where frames are made. ``prepare`` does it and hands ``apply`` a finished value.
The mapping file comes from the network, so it is read as untrusted: a regular file of at most
:data:`MAX_MAPPING_BYTES`, UTF-8, and no more than :data:`MAX_YAML_NODES` nodes once YAML aliases
are expanded (a "billion laughs" file is refused before anything walks it).
"""

from __future__ import annotations

import os
import stat

from bridge.errors import ControlError
from bridge.runtime.controls import Control

MAX_MAPPING_BYTES = 256 * 1024  # the shipped mappings are 2-4 KB
MAX_YAML_NODES = 100_000  # after alias expansion; a mapping with 200 routes has ~3,000


class ControlTargets:
    """The engine's classic-signal stages and mapping output, found once, as the control table's
    actions (``set_gain``, ``set_threshold``, ...). ``rate_fixed``: the user gave
    ``--output-rate``, so a mapping switch keeps the engine's rate instead of the new file's."""

    def __init__(self, engine, *, rate_fixed: bool = False):
        from bridge.signals.bands import BandLevels
        from bridge.signals.triggers import OnsetTriggers

        self.engine = engine
        self.rate_fixed = rate_fixed
        signals = next((s.impl for s in engine.stages if hasattr(getattr(s, "impl", None),
                                                                  "stages")), None)
        stages = signals.stages if signals is not None else []
        self.bands = next((s for s in stages if isinstance(s, BandLevels)), None)
        self.triggers = next((s for s in stages if isinstance(s, OnsetTriggers)), None)
        self.mapping = next((o for o in engine.outputs if hasattr(o, "outputs")
                             and hasattr(o, "path")), None)  # a MappingOutput

    # ---- the protocol of ControlPort ---------------------------------------------------------
    def prepare(self, control: Control, values: tuple):
        """Control thread: check this run can take the change and do its slow part."""
        action = control.action
        if action[0] in ("set_gain", "set_smoothing") and self.bands is None:
            raise ControlError("this run computes no band levels")
        if action[0] in ("set_threshold", "set_band") and self.triggers is None:
            raise ControlError("this run computes no triggers")
        prepare = getattr(self, "prepare_" + action[0], None)
        return prepare(*action[1:], *values) if prepare is not None else None

    def apply(self, control: Control, values: tuple, payload) -> str:
        """Engine thread: make the change; returns what the ack and the log line say."""
        action = control.action
        extra = (payload,) if payload is not None else ()
        return getattr(self, action[0])(*action[1:], *values, *extra)

    # ---- the actions -------------------------------------------------------------------------
    def set_gain(self, band: str, gain: float) -> str:
        self.bands.set_gain(band, gain)
        return f"{band} gain {gain:g} (default 1)"

    def set_threshold(self, trigger: str, db: float) -> str:
        self.triggers.set_min_rise(trigger, db)
        return f"{trigger} threshold {db:g} dB (default 6)"

    def prepare_set_band(self, trigger: str, lo: float, hi: float):
        return self.triggers.layout.band_column(trigger, lo, hi)

    def set_band(self, trigger: str, lo: float, hi: float, column) -> str:
        self.triggers.use_band(column)
        n = int(column.mask.sum())
        inside = lo <= column.lo_centre_hz and column.hi_centre_hz < hi
        where = (f"{n} mel band{'s' if n != 1 else ''} centred {column.lo_centre_hz:.0f}-"
                 f"{column.hi_centre_hz:.0f} Hz" if inside else
                 "no mel band is centred inside, so the nearest one "
                 f"({column.lo_centre_hz:.0f} Hz)")
        return f"{trigger} band {lo:g}-{hi:g} Hz: {where}"

    def set_smoothing(self, seconds: float) -> str:
        self.bands.set_release(seconds)
        return f"low/mid/high release {seconds:g} s (default 0.15)"

    def set_rate(self, rate: float) -> str:
        engine = self.engine
        engine.output_rate = float(rate)
        outputs = self._outputs()
        if outputs is not None:
            outputs.set_rate(rate)
        self._schema_changed()
        frame_rate = engine.spec.frame_rate
        capped = (f" (one tick per analysis frame at most: {frame_rate:.2f} ticks/s)"
                  if rate > frame_rate else "")
        return f"output rate {rate:g} Hz{capped}"

    def prepare_set_mapping(self, path: str):
        outputs = self._outputs()
        if self.mapping is None:
            raise ControlError("this run has no mapping (--mapping none): restart with "
                               "--mapping PATH")
        if outputs is None:
            raise ControlError("the daemon is still starting: send it again in a moment")
        path = os.path.abspath(os.path.expanduser(path))
        return path, read_mapping(path, outputs.signals)

    def set_mapping(self, _path: str, prepared) -> str:
        path, mapping = prepared
        outputs = self._outputs()
        problems = outputs.switch(mapping, path)
        if problems:
            raise ControlError(f"mapping {path} not switched to, the current one stays: "
                          f"{problems[0]}")
        self.mapping.path = path
        if not self.rate_fixed and outputs.rate_override is None:
            self.engine.output_rate = float(mapping.rate)
        self._schema_changed()
        return (f"mapping {path}: {len(mapping.routes)} routes, sent at "
                f"{self.engine.output_rate:g} Hz")

    def ping(self) -> str:
        return f"alive: {self.engine.ticks} ticks sent"

    def stop(self) -> str:
        self.engine.request_stop()
        return "stopping: idle values out, then exit"

    def _outputs(self):
        return getattr(self.mapping, "outputs", None)

    def _schema_changed(self) -> None:
        """What is sent changed (addresses, rate): ``/vjbridge/_info`` says so at its next turn."""
        for output in self.engine.outputs:
            info = getattr(output, "info", None)
            if info is not None:
                info.invalidate()


def read_mapping(path: str, signals):
    """Read and validate a mapping file named by a peer; :class:`ControlError` with its first
    problems (the file is untrusted: see the module docstring)."""
    from bridge.errors import MappingError
    from bridge.mapping.validate import NOT_TEXT, validate

    try:
        st = os.stat(path)
    except OSError as exc:
        raise ControlError(f"mapping {path}: cannot read it: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise ControlError(f"mapping {path}: is a directory; send the path of a mapping YAML file")
    if not stat.S_ISREG(st.st_mode):
        raise ControlError(f"mapping {path}: not a regular file")
    if st.st_size > MAX_MAPPING_BYTES:
        raise ControlError(f"mapping {path}: {st.st_size} bytes; a mapping is at most "
                      f"{MAX_MAPPING_BYTES // 1024} KiB")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_MAPPING_BYTES + 1)
    except OSError as exc:
        raise ControlError(f"mapping {path}: cannot read it: {exc.strerror or exc}") from None
    try:
        text = data[:MAX_MAPPING_BYTES].decode("utf-8")
        raw = _parse_yaml(text)
        mapping = validate(raw, signals=signals, source=path)
    except UnicodeDecodeError:
        raise ControlError(f"mapping {path}: {NOT_TEXT}") from None
    except MappingError as exc:
        n = len(exc.problems)
        first = "; ".join(exc.problems[:3]) + ("; ..." if n > 3 else "")
        raise ControlError(f"mapping {path} refused, the current one stays ({n} problem"
                      f"{'s' if n != 1 else ''}): {first}") from None
    except _YamlProblem as exc:
        raise ControlError(f"mapping {path} refused, the current one stays: {exc}") from None
    except RecursionError:
        raise ControlError(f"mapping {path} refused, the current one stays: nested too deeply") \
            from None
    return mapping


class _YamlProblem(Exception):
    pass


def _parse_yaml(text: str):
    """``yaml.safe_load`` that refuses, before constructing anything, a document that expands to
    more than :data:`MAX_YAML_NODES` nodes or refers to itself."""
    import yaml

    from bridge.mapping.validate import yaml_problem

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise _YamlProblem(yaml_problem(exc)) from None
        if node is None:
            return None
        _check_expansion(node)
        try:
            return loader.construct_document(node)
        except yaml.YAMLError as exc:
            raise _YamlProblem(yaml_problem(exc)) from None
    finally:
        loader.dispose()


def _check_expansion(root) -> None:
    """Count the nodes ``root`` has once every alias is expanded (each distinct node once, with a
    memo, iteratively): a handful of nested aliases can stand for billions."""
    import yaml

    sizes: dict[int, int] = {}
    active: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            if isinstance(node, yaml.MappingNode):
                children = [c for pair in node.value for c in pair]
            else:
                children = node.value
            size = 1 + sum(sizes[id(c)] for c in children)
            active.discard(key)
            if size > MAX_YAML_NODES:
                raise _YamlProblem(f"the YAML expands to more than {MAX_YAML_NODES} nodes "
                                   "(aliases repeating aliases?); a mapping is far smaller")
            sizes[key] = size
            continue
        if key in sizes:
            continue
        if key in active:
            raise _YamlProblem("the YAML refers to itself (a recursive alias)")
        if isinstance(node, yaml.ScalarNode):
            sizes[key] = 1
            continue
        active.add(key)
        stack.append((node, True))
        children = ([c for pair in node.value for c in pair]
                    if isinstance(node, yaml.MappingNode) else node.value)
        stack.extend((c, False) for c in children if id(c) not in sizes)
