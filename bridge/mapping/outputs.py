"""A mapping made live: the router plus its opened sinks. This is what the engine drives.

Why one object: the engine needs exactly four things from the output side: open everything a
mapping names (failing with one clear line), send one frame per tick, swap in an edited mapping
without dropping outputs, and leave every receiver at its idle values on exit. A reload that fails
validation, or names an output that cannot be opened, changes nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping as AbcMapping

from bridge.errors import MappingError, SinkError
from bridge.mapping.router import Router
from bridge.mapping.validate import Mapping, load_mapping

log = logging.getLogger(__name__)


class Outputs:
    """``Outputs(path)`` validates the mapping and opens its sinks; ``tick(values)`` once per output
    tick; ``reload()`` hot-swaps; ``close()`` blacks out and closes (also as a context manager).

    ``overrides``: output kind -> a command-line override every target of that kind takes
    (the kind's :attr:`~bridge.sinks.kind.OutputKind.override`; the CLI's ``--osc HOST:PORT`` is
    ``{"osc": (host, port)}``). ``signals``: known signal names (name -> kind); None = the signal
    catalog. ``kinds``: the output-kind registry (default :data:`bridge.sinks.KINDS`).
    """

    def __init__(self, path: str | os.PathLike, *, signals: AbcMapping[str, str] | None = None,
                 overrides: AbcMapping | None = None, kinds: AbcMapping | None = None) -> None:
        from bridge.sinks import KINDS

        self.path = os.fspath(path)
        self.signals = signals
        self.overrides = dict(overrides or {})
        self._kinds = KINDS if kinds is None else kinds
        mapping = load_mapping(self.path, signals=signals, overrides=self.overrides)
        self.router = Router(mapping, signals=signals)
        self.sinks: dict = {}
        self._configs: dict = {}
        try:
            self._open_missing(mapping, self.sinks, self._configs)
        except BaseException:
            self._close_all(self.sinks)
            raise
        self._set_idles()
        self._stamp = _file_stamp(self.path)
        self.rate_override: float | None = None  # set_rate(): what every loaded mapping runs at

    @property
    def rate(self) -> float:
        return self.router.rate

    @property
    def mapping(self) -> Mapping:
        return self.router.mapping

    def _config(self, mapping: Mapping, key: tuple[str, str]) -> dict:
        kind, name = key
        cfg = dict(mapping.targets[kind][name])
        value = self.overrides.get(kind)
        override = self._kinds[kind].override
        if value is not None and override is not None:
            cfg = dict(override(cfg, value))
        return cfg

    def _open_missing(self, mapping: Mapping, sinks: dict, configs: dict) -> list:
        opened = []
        for key in mapping.sink_keys():
            cfg = self._config(mapping, key)
            if key in sinks and configs.get(key) == cfg:
                continue
            sink = self._kinds[key[0]].open(key[1], cfg)
            opened.append(key)
            sinks[key], configs[key] = sink, cfg
            log.info("opened %r", sink)
        return opened

    def _set_idles(self, idle: dict | None = None) -> None:
        idle = self.router.idle() if idle is None else idle
        for key, sink in self.sinks.items():
            sink.set_idle(idle.get(key, []))

    def tick(self, values: AbcMapping[str, float]) -> None:
        """Route one tick of signal values and send each sink its part."""
        self.transmit(self.router.tick(values))

    def transmit(self, frame) -> None:
        """Send each sink its part of a routed :data:`~bridge.mapping.router.Frame` (a sink the
        mapping no longer has since it was routed is skipped)."""
        sinks = self.sinks
        for key, items in frame.items():
            sink = sinks.get(key)
            if sink is not None:
                sink.send(items)

    def reload(self, path: str | os.PathLike | None = None) -> list[str]:
        """Switch to the mapping at ``path`` (default: the current file, re-read).

        Returns ``[]`` on success, else every problem; on any problem the current mapping and
        sinks stay live. Sinks whose settings did not change stay open.
        """
        path = os.fspath(path) if path is not None else self.path
        try:
            mapping = load_mapping(path, signals=self.signals, overrides=self.overrides)
        except MappingError as exc:
            log.error("mapping %s not reloaded, keeping the last good one: %s", path, exc)
            return list(exc.problems)
        return self.switch(mapping, path)

    def prepare(self, mapping: Mapping, path: str | os.PathLike) -> "PreparedSwitch":
        """The slow half of a switch, for a thread other than the engine's (the reload watcher,
        the control thread): open the sinks ``mapping`` needs that are not open with the same
        settings (a host name lookup, a TCP connection thread). :class:`SinkError` when one cannot
        be opened (nothing stays open then). Hand the result to :meth:`switch`, or ``discard()``
        it. Reads the current sinks, never changes them."""
        path = os.fspath(path)
        base = self.sinks
        sinks, configs = dict(base), dict(self._configs)
        try:
            opened = self._open_missing(mapping, sinks, configs)
        except BaseException:
            self._close_all({k: s for k, s in sinks.items() if s is not base.get(k)})
            raise
        prepared = PreparedSwitch(mapping, path, base, sinks, configs, opened)
        # the routes built here too (a 2,000-route mapping takes ~20 ms): the engine assigns them
        prepared.rate_override = self.rate_override
        if self.rate_override is not None:
            mapping = dataclasses.replace(mapping, rate=self.rate_override)
        prepared.router = Router(mapping, signals=self.signals)
        prepared.idle = prepared.router.idle()
        return prepared

    def switch(self, mapping: "Mapping | PreparedSwitch", path: str | os.PathLike | None = None,
               *, close=None) -> list[str]:
        """Switch to ``mapping``, already validated (read from ``path``), as :meth:`reload` does
        after reading it: ``[]``, or the problem opening its sinks (the current mapping stays).
        Given a :class:`PreparedSwitch` (from :meth:`prepare`, off the engine thread) this only
        assigns: the new sinks are open already. ``close``: called with the retired sinks instead
        of closing them here (a TCP sink's close waits for its writer; the watcher does it off the
        engine thread). A rate set with :meth:`set_rate` stays in force."""
        if isinstance(mapping, PreparedSwitch):
            prepared = mapping
            if prepared.base is not self.sinks:  # another switch came first: open again
                beside, prepared.stages = prepared.stages, []
                prepared.discard()
                prepared.stages = beside  # still good: the caller takes them on success
                mapping, path = prepared.mapping, prepared.path
                prepared = None
        else:
            prepared = None
        if prepared is None:
            try:
                prepared = self.prepare(mapping, path)
            except SinkError as exc:
                log.error("mapping %s not reloaded, keeping the last good one: %s", path, exc)
                return [str(exc)]
        mapping, path = prepared.mapping, prepared.path
        built = prepared.router if prepared.rate_override == self.rate_override else None
        if built is not None:
            mapping = built.mapping  # with the rate override, if any
        elif self.rate_override is not None:
            mapping = dataclasses.replace(mapping, rate=self.rate_override)
        old, opened = prepared.base, prepared.opened
        keep = set(mapping.sink_keys())
        retired = {k: s for k, s in old.items() if k not in keep or k in opened}
        self.router.swap(mapping, built)
        if path != self.path:
            self._stamp = _file_stamp(path)
        self.path = path
        self.sinks = {k: s for k, s in prepared.sinks.items() if k in keep}
        self._configs = {k: c for k, c in prepared.configs.items() if k in keep}
        prepared.used = True
        self._set_idles(prepared.idle if built is not None else None)
        if close is not None and retired:
            close(retired)
        else:
            self._close_all(retired)
        log.info("mapping reloaded from %s (%d routes)", path, len(mapping.routes))
        return []

    def set_rate(self, rate: float) -> None:
        """Evaluate the routes ``rate`` times a second from now on (the engine's output rate
        changed): smoothing, auto-range windows, the delay and note lengths keep their meaning in
        seconds. The routes restart (their state is per tick); mapping reloads keep this rate."""
        self.rate_override = float(rate)
        self.router.swap(dataclasses.replace(self.router.mapping, rate=self.rate_override))

    def reload_if_changed(self) -> list[str] | None:
        """Reload when the mapping file changed since the last (attempted) load; else None.

        Cheap (one ``stat``): the engine can call it about once a second. A broken edit is
        reported once (its problems returned) and not retried until the file changes again.
        """
        stamp = _file_stamp(self.path)
        if stamp == self._stamp:
            return None
        self._stamp = stamp
        return self.reload()

    def stats(self) -> dict:
        """Per sink ("KIND:NAME", e.g. "osc:default"): frames, sent (packets/messages) and drops."""
        return {f"{k}:{n}": s.stats() for (k, n), s in self.sinks.items()}

    def blackout(self) -> None:
        for sink in self.sinks.values():
            sink.blackout()

    @staticmethod
    def _close_all(sinks: dict) -> None:
        for key in reversed(list(sinks)):
            try:
                sinks[key].close()
            except Exception as exc:  # closing must reach every sink
                log.warning("closing %s: %s", key, exc)

    def close(self) -> None:
        """Idle values out, MIDI notes off and all-notes-off, transports closed. Idempotent."""
        self._close_all(self.sinks)

    def __enter__(self) -> "Outputs":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class PreparedSwitch:
    """A validated mapping with the sinks it needs already open (:meth:`Outputs.prepare`): what
    a thread hands the engine, which makes it live with assignments only."""

    def __init__(self, mapping: Mapping, path: str, base: dict, sinks: dict, configs: dict,
                 opened: list) -> None:
        self.mapping, self.path = mapping, path
        self.base = base  # the Outputs' sinks it was prepared against
        self.sinks, self.configs, self.opened = sinks, configs, opened
        self.router: Router | None = None  # the routes, built by prepare()
        self.rate_override: float | None = None  # the rate they were built at
        self.idle: dict | None = None  # the router's idle frame
        # what the run built for these routes beside the sinks (started objects with close():
        # bridge.runtime's optional stages), taken by the run when it goes live
        self.stages: list = []
        self.used = False

    def discard(self) -> None:
        """Close the sinks this switch opened (it will not be used), and what was built beside
        them. Idempotent."""
        if not self.used:
            self.used = True
            Outputs._close_all({k: self.sinks[k] for k in self.opened})
            stages, self.stages = self.stages, []
            for stage in stages:
                try:
                    stage.close()
                except Exception as exc:  # noqa: BLE001 - discarding must not fail
                    log.error("while closing %s: %s", getattr(stage, "name", stage), exc)


def file_stamp(path: str) -> tuple | None:
    """What tells an edited file from the last one read: (mtime_ns, size, inode), or None."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


_file_stamp = file_stamp
