"""The mapping reload watcher: notices an edited mapping file, reads, validates and opens it on its
own thread, and hands the engine a finished switch.

Why a thread: reading a mapping is parsing YAML, validating every route, and opening any new
output (a host name lookup); on the engine thread a 10 MB file blacked the show out for seconds.
Here the engine's once-a-second poll only takes what is ready (one lock, one attribute) and makes
it live with assignments (:meth:`bridge.mapping.outputs.Outputs.switch` of a
:class:`~bridge.mapping.outputs.PreparedSwitch`), between frames. The file is read under the limits
of :mod:`bridge.mapping.limits`: a FIFO, a huge file or an alias bomb is refused, named, and the
last good mapping stays live. Retired sinks are closed here too (a TCP sink's close waits for its
writer thread).

The watcher stats the file about once a second; a change is (mtime, size, inode), so an editor that
saves by rename is seen. Each result is reported once per change through the run's event record
(``mapping`` events): the reload that worked as INFO, the refused one as ERROR.
"""

from __future__ import annotations

import logging
import threading

from bridge.errors import MappingError, SinkError
from bridge.mapping.outputs import file_stamp

log = logging.getLogger(__name__)


class MappingWatcher:
    """Watches ``outputs.path`` (a :class:`bridge.mapping.outputs.Outputs`), see the module
    docstring. ``report(level, message)``: where results go (the engine's events).
    ``prepare(switch)``: more slow work for a validated switch, on this thread (the stages its
    routes need, :meth:`bridge.runtime.pipeline.MappingOutput.prepare_stages`)."""

    def __init__(self, outputs, *, report=None, prepare=None, interval: float = 1.0) -> None:
        self.outputs = outputs
        self.prepare = prepare
        self.report = report or (lambda level, message: log.log(level, "%s", message))
        self.interval = float(interval)
        self._path = outputs.path
        self._stamp = file_stamp(self._path)
        self._ready = None  # a PreparedSwitch waiting for the engine
        self._retired: list[dict] = []  # sinks the engine retired, closed here
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="mapping-watcher", daemon=True)
        self.reloads = 0  # successful ones, made live by the engine
        self.refused = 0

    def start(self) -> "MappingWatcher":
        self._thread.start()
        return self

    # ---- the engine's side: cheap -------------------------------------------------------------
    def take(self):
        """The switch ready for the engine (or None): one lock, no I/O."""
        if self._ready is None:
            return None
        with self._lock:
            ready, self._ready = self._ready, None
        return ready

    def retire(self, sinks: dict) -> None:
        """Close ``sinks`` (retired by a switch) on this thread, not the caller's."""
        with self._lock:
            self._retired.append(sinks)
        self._wake.set()

    def applied(self, prepared, problems: list[str], *, added: str = "") -> None:
        """The engine made ``prepared`` live (``problems`` empty) or could not: report it
        (``added``: what the engine added with it, appended to the line)."""
        if problems:
            self.refused += 1
            self.report(logging.ERROR, f"mapping {prepared.path} not reloaded, the last good one "
                                       f"stays: {problems[0]}")
        else:
            self.reloads += 1
            m = prepared.mapping
            n = len(m.routes)
            self.report(logging.INFO, f"mapping {prepared.path} reloaded: {n} route"
                                      f"{'s' if n != 1 else ''}, " + " / ".join(
                                          f"{len(t)} {kind}" for kind, t in m.targets.items()
                                          if t) + " outputs" + added)

    # ---- the watcher thread -------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stopping:
                break
            try:
                self._close_retired()
                self._check()
            except Exception as exc:  # noqa: BLE001 - the watcher must outlive any one file
                log.error("mapping watcher: %s", exc)

    def _check(self) -> None:
        outputs = self.outputs
        path = outputs.path
        if path != self._path:  # switched over the control port: watch the new file from now
            self._path, self._stamp = path, file_stamp(path)
            return
        stamp = file_stamp(path)
        if stamp == self._stamp or stamp is None:  # unchanged, or gone (mid-save): wait
            return
        self._stamp = stamp
        from bridge.mapping.validate import load_mapping

        try:
            mapping = load_mapping(path, signals=outputs.signals,
                                   overrides=getattr(outputs, "overrides", None))
            prepared = outputs.prepare(mapping, path)
        except (MappingError, SinkError) as exc:
            self.refused += 1
            self.report(logging.ERROR, f"mapping {path} not reloaded, the last good one stays: "
                                       f"{_first(exc)}")
            return
        if self.prepare is not None:
            self.prepare(prepared)
        with self._lock:
            stale, self._ready = self._ready, prepared
        if stale is not None:
            stale.discard()

    def _close_retired(self) -> None:
        with self._lock:
            retired, self._retired = self._retired, []
        for sinks in retired:
            self.outputs._close_all(sinks)

    def close(self, timeout: float = 1.0) -> None:
        """Stop watching; whatever was prepared and not taken is closed. Waits at most
        ``timeout`` s (a read stuck in the file system does not hold up a stop)."""
        self._stopping = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._close_retired()
        ready = self.take()
        if ready is not None:
            ready.discard()


def _first(exc: Exception) -> str:
    problems = getattr(exc, "problems", None)
    if problems:
        n = len(problems)
        more = f" (and {n - 1} more; `vjbridge check FILE` lists them)" if n > 1 else ""
        return problems[0] + more
    return str(exc)
