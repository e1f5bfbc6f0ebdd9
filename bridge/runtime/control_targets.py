"""What live controls act on in a running pipeline, in two halves: ``prepare`` (the control thread:
anything slow) and ``apply`` (the engine thread, between blocks: assignments only).

Why the split: a redrawn trigger band needs a filterbank and an FFT to find its full-scale
reference, and a mapping switch needs a file read, YAML parsed and every route validated; none
of that may run where frames are made. ``prepare`` does it and hands ``apply`` a finished value.
The mapping file comes from the network, so it is read as untrusted, under the limits every
mapping is read with (:mod:`bridge.mapping.limits`: a regular file of at most
:data:`MAX_MAPPING_BYTES`, UTF-8, no more than :data:`MAX_YAML_NODES` nodes once YAML aliases are
expanded, a bounded number of routes, bundles that fit one datagram).
"""

from __future__ import annotations

import contextlib
import os

from bridge.errors import ControlError, SinkError
from bridge.mapping.limits import MAX_MAPPING_BYTES, MAX_YAML_NODES  # noqa: F401 - re-exported
from bridge.runtime.controls import Control


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
        self.engine.tune_fast("set_min_rise", trigger, db)
        return f"{trigger} threshold {db:g} dB (default 6)"

    def prepare_set_band(self, trigger: str, lo: float, hi: float):
        return self.triggers.layout.band_column(trigger, lo, hi)

    def set_band(self, trigger: str, lo: float, hi: float, column) -> str:
        self.triggers.use_band(column)
        self.engine.tune_fast("set_band", trigger, lo, hi)
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
        with self._recorded():
            mapping = read_mapping(path, outputs.signals)
            try:  # new outputs open here (a host name lookup), not on the engine thread
                prepared = outputs.prepare(mapping, path)
                self.mapping.prepare_stages(prepared)  # and the stages its routes need
                return path, prepared
            except SinkError as exc:
                raise ControlError(f"mapping {path} not switched to, the current one stays: "
                                   f"{exc}") from None

    def set_mapping(self, _path: str, prepared) -> str:
        path, prepared = prepared
        mapping = prepared.mapping
        outputs = self._outputs()
        watcher = getattr(self.mapping, "watcher", None)
        with self._recorded():
            problems = outputs.switch(prepared, close=watcher.retire if watcher else None)
            if problems:
                self.mapping.drop_stages(prepared)
                raise ControlError(f"mapping {path} not switched to, the current one stays: "
                                   f"{problems[0]}")
        self.mapping.path = path
        if not self.rate_fixed and outputs.rate_override is None:
            self.engine.output_rate = float(mapping.rate)
        self._schema_changed()
        added = self.mapping.adopt_stages(prepared)
        message = (f"mapping {path}: {len(mapping.routes)} routes, sent at "
                   f"{self.engine.output_rate:g} Hz{added}")
        self._record(True, f"switched by the control port to {message}")
        return message

    @contextlib.contextmanager
    def _recorded(self):
        """A refused switch is the show's last reload result too (status page, /health, events);
        the control port writes the log line itself."""
        try:
            yield
        except ControlError as exc:
            self._record(False, f"control port: {exc}")
            raise

    def _record(self, ok: bool, message: str) -> None:
        record = getattr(self.mapping, "record_reload", None)
        if record is not None:
            record(ok, message, log=False)

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
    problems (the file is untrusted: read under :mod:`bridge.mapping.limits`, as every mapping)."""
    from bridge.errors import MappingError
    from bridge.mapping.validate import load_mapping

    try:
        return load_mapping(path, signals=signals)
    except MappingError as exc:
        n = len(exc.problems)
        first = "; ".join(exc.problems[:3]) + ("; ..." if n > 3 else "")
        raise ControlError(f"mapping {path} refused, the current one stays ({n} problem"
                           f"{'s' if n != 1 else ''}): {first}") from None
