"""`Snapshot`: the one picture of a running show that every reader takes, published by the engine.

Why one snapshot: the status line, the status page, ``/health`` and ``vjbridge status`` must agree
on what the show is doing, and none of them may slow the engine down or see a half-updated state.
So the engine thread builds an immutable :class:`Snapshot` a few times a second (every
``Engine.snapshot_interval`` s, between blocks, never per frame; ~60-100 µs each, measured) and
publishes it with one reference assignment (``engine.snapshot = snap``). A reader takes the
reference and reads at leisure: reading changes nothing, takes no lock the engine waits on, and
cannot block it. An engine that stops publishing is itself news: ``/health`` calls it stalled when
the newest snapshot is older than 2 s (:mod:`bridge.runtime.health`).

The :class:`Publisher` also watches what only shows over time, and reports it through the run's
event record (``engine.events``, :mod:`bridge.runtime.events`): the OSC targets (warned about at
start and after a reload when broadcast, multicast or unroutable: :mod:`bridge.runtime.targets`),
outputs whose drops go over :data:`DROP_THRESHOLD` (a warning event, then an info event when they
stop), a target where nothing listens (refused packets, a TCP target not connected), and a TCP
receiver that accepted the connection but does not read (its unacknowledged bytes, one ``SIOCOUTQ``
ioctl, stay above :data:`UNREAD_BYTES`: without this such a peer is "sent" everything, with no
drop, for as long as the kernel buffers it). An input that stops delivering audio
for :data:`AUDIO_STALL_S` is ``device_state == "stalled"`` at once, whatever the source's own
supervisor has decided yet.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import time
from types import MappingProxyType
from typing import NamedTuple

from bridge.sources.rate import resampling

log = logging.getLogger(__name__)

#: No audio block for this long while the source says "running": the input has stalled.
AUDIO_STALL_S = 0.5
#: An output dropping more than this share of its packets over :data:`WINDOW_S` (and at least
#: :data:`DROP_MIN` packets) is "dropping": a warning event, a degraded ``/health``.
DROP_THRESHOLD = 0.01
DROP_MIN = 3
#: The window rates and drop shares are measured over (s).
WINDOW_S = 2.0
#: A TCP receiver that leaves at least this many bytes unacknowledged for WINDOW_S is not reading
#: (it accepted the connection and froze): the kernel buffers everything it is "sent".
UNREAD_BYTES = 16 * 1024
#: How many recent events a snapshot carries.
EVENTS_KEPT = 30
#: The latency samples are copied into a snapshot at most this often (s); their percentiles
#: (~400 µs of numpy for 4,096 samples) are computed by readers, never on the engine thread.
LATENCY_EVERY_S = 1.0


class Target(NamedTuple):
    """One output target (an OSC target or a MIDI port) as counted by its sink."""

    name: str  # "osc:default", "midi:desk"
    description: str  # "udp://127.0.0.1:7000 bundles"
    sent: int
    drops: int
    refused: int
    drops_per_s: float  # over the last WINDOW_S
    dropping: bool  # drops over DROP_THRESHOLD in the last WINDOW_S
    listening: bool  # False: packets refused lately (nothing listens), or TCP not connected
    backlog: int | None  # TCP: bytes sent into the connection and not yet acknowledged
    reading: bool  # False: a TCP receiver that has not read for WINDOW_S (backlog stays high)

    def as_dict(self) -> dict:
        return self._asdict()


class SignalInfo(NamedTuple):
    """What a meter needs to know about a signal besides its value (static for a run)."""

    name: str
    kind: str  # continuous, trigger, tempo, colour, spectrum (bridge.signals.catalog)
    low: float
    high: float  # math.inf for unbounded


class Reload(NamedTuple):
    """The newest mapping reload: when (``time.time()``), whether it took, and its one line."""

    time: float
    ok: bool
    message: str


@dataclasses.dataclass(frozen=True, slots=True)
class Snapshot:
    """The state of the show at ``time``; immutable (mappings are read-only views of copies)."""

    seq: int  # 1, 2, ... per publish
    time: float  # time.time() when built
    monotonic: float  # time.monotonic() when built: its age, for readers in this process
    started: float  # time.time() when the engine started
    engine_state: str  # "starting", "running", "stopped"
    priority: str
    source_kind: str  # "device", "file", "demo"
    source_description: str
    source_state: str  # the source's own: starting, running, lost, finished, stopped
    device_state: str  # source_state, or "stalled" when no audio came for AUDIO_STALL_S
    input_state: str | None  # starting, ok, silent (bridge.runtime.input_watch), lost
    silent_for: float | None  # seconds of silence on the input while it is "silent"
    audio_age: float | None  # seconds since the last audio block reached the engine
    values: MappingProxyType  # the newest tick's values: name -> float (a tuple for a vector)
    fired: MappingProxyType  # trigger name -> times it fired since the engine started
    signals: tuple  # SignalInfo of every signal in ``values``, in order
    levels: MappingProxyType  # rms/low/mid/high for the status line (Engine.levels)
    packets: int  # ticks sent
    held: int  # ticks re-sent while the input was away
    packets_per_s: float
    sent: int  # packets the transports sent (all targets)
    drops: int
    refused: int
    overruns: int
    xruns: int
    restarts: int
    overruns_per_s: float
    latency_samples: tuple  # block arrival -> packet sent (s), the engine's recent ones
    output_rate: float
    targets: tuple  # Target per output target
    mapping_path: str | None
    last_reload: Reload | None
    control: str | None  # the control port, described; None when closed
    events: tuple  # the newest EVENTS_KEPT bridge.runtime.events.Event, oldest first
    nonfinite: int = 0  # input blocks replaced by silence (NaN/inf): bridge.runtime.input_watch
    # (median, p99) once a reader computed them; shared by the snapshots that share the samples
    _latency_cache: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)
    input_rate: float | None = None  # Hz the source delivers (bridge.sources.rate)
    resampler_delay_ms: float | None = None  # the resampler's filter delay (0: none)
    link: str | None = None  # the Ableton Link session's one-line status; None: not in one

    @property
    def latency_median_ms(self) -> float:
        return self._latency()[0]

    @property
    def latency_p99_ms(self) -> float:
        return self._latency()[1]

    def _latency(self) -> tuple[float, float]:
        """(median, p99) in ms, computed by the first reader that asks (off the engine thread)."""
        found = self._latency_cache.get("ms")
        if found is None:
            import numpy as np

            v = np.asarray(self.latency_samples, dtype=np.float64)
            found = (tuple(float(x) * 1e3 for x in np.percentile(v, (50, 99))) if v.size
                     else (math.nan, math.nan))
            self._latency_cache["ms"] = found
        return found

    @property
    def age(self) -> float:
        """Seconds since this snapshot was built (readers in the publishing process)."""
        return time.monotonic() - self.monotonic

    def as_dict(self) -> dict:
        """Plain JSON-ready data (NaN and inf become None: JSON has neither)."""
        return {
            "seq": self.seq, "time": self.time, "time_iso": iso_time(self.time),
            "started": self.started, "uptime_s": _num(self.time - self.started),
            "engine": {"state": self.engine_state, "priority": self.priority,
                       "output_rate": self.output_rate, "packets": self.packets,
                       "held": self.held, "packets_per_s": _num(self.packets_per_s),
                       "restarts": self.restarts},
            "source": {"kind": self.source_kind, "description": self.source_description,
                       "state": self.source_state, "device_state": self.device_state,
                       "input_state": self.input_state, "silent_for_s": _num(self.silent_for),
                       "audio_age_s": _num(self.audio_age), "overruns": self.overruns,
                       "xruns": self.xruns, "overruns_per_s": _num(self.overruns_per_s),
                       "nonfinite_blocks": self.nonfinite,
                       "rate_hz": _num(self.input_rate),
                       "resampler_delay_ms": _num(self.resampler_delay_ms)},
            "outputs": {"sent": self.sent, "drops": self.drops, "refused": self.refused,
                        "targets": [t.as_dict() | {"drops_per_s": _num(t.drops_per_s)}
                                    for t in self.targets]},
            "latency_ms": {"median": _num(self.latency_median_ms),
                           "p99": _num(self.latency_p99_ms)},
            "signals": [_signal(info, self.values.get(info.name), self.fired.get(info.name))
                        for info in self.signals],
            "mapping": {"path": self.mapping_path,
                        "reload": None if self.last_reload is None else {
                            "time": self.last_reload.time,
                            "time_iso": iso_time(self.last_reload.time),
                            "ok": self.last_reload.ok, "message": self.last_reload.message}},
            "control": self.control,
            "link": self.link,
            "events": [e.as_dict() | {"time_iso": iso_time(e.time)} for e in self.events],
        }


def iso_time(t: float) -> str:
    """``t`` (``time.time()``) as ISO-8601 local time with its UTC offset, to the millisecond."""
    import datetime

    return datetime.datetime.fromtimestamp(t).astimezone().isoformat(timespec="milliseconds")


def _num(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _signal(info: SignalInfo, value, fired) -> dict:
    out = {"name": info.name, "kind": info.kind, "min": _num(info.low), "max": _num(info.high)}
    if type(value) is tuple:
        out["value"] = [_num(v) for v in value]
    else:
        out["value"] = _num(value)
    if info.kind == "trigger":
        out["fired"] = int(fired or 0)
    return out


def sinks_of(output) -> dict:
    """An engine output's sinks by "kind:name": a mapping's (``output.outputs.sinks``) or the raw
    OSC output's (``osc_sinks()``); {} before they open."""
    outputs = getattr(output, "outputs", None)
    sinks = getattr(outputs, "sinks", None)
    if isinstance(sinks, dict):
        return {f"{kind}:{name}": sink for (kind, name), sink in list(sinks.items())}
    osc = getattr(output, "osc_sinks", None)
    if callable(osc):
        return {f"osc:{name}": sink for name, sink in osc().items()}
    return {}


class _Window:
    """Counters sampled at each publish; deltas over the last WINDOW_S."""

    def __init__(self):
        self.samples: collections.deque = collections.deque()

    def add(self, now: float, *counts) -> tuple:
        """Record ``counts`` at ``now``; the deltas since the oldest sample within the window,
        and the window's length (0 on the first sample)."""
        samples = self.samples
        samples.append((now, counts))
        while len(samples) > 2 and now - samples[1][0] >= WINDOW_S:
            samples.popleft()
        t0, old = samples[0]
        return now - t0, tuple(c - o for c, o in zip(counts, old))


class Publisher:
    """Builds the engine's snapshots and reports what they show (see the module docstring).

    ``publish(now)`` runs on the engine thread only (every ``Engine.snapshot_interval`` s), so
    its bookkeeping needs no lock; what it builds is immutable."""

    def __init__(self, engine, *, clock=time.perf_counter):
        self.engine = engine
        self._clock = clock
        self.seq = 0
        self.started = time.time()
        self._ticks = _Window()
        self._targets: dict[str, _Window] = {}
        self._dropping: set[str] = set()
        self._refusing: set[str] = set()
        self._refused_seen: dict[str, int] = {}
        self._unread_since: dict[str, float] = {}
        self._unread: set[str] = set()
        self._checked: dict[str, int] = {}  # target name -> id(sink) whose address was checked
        self._signals: tuple = ()
        self._signal_names: tuple = ()
        self._latency: tuple = ()
        self._latency_cache: dict = {}
        self._latency_at = -math.inf
        self._latency_count = -1

    # ---- the engine calls this ------------------------------------------------------------------
    def publish(self, now: float | None = None, *, state: str = "running") -> Snapshot:
        """Build a snapshot from the engine's counters and publish it (``engine.snapshot``)."""
        e = self.engine
        now = self._clock() if now is None else now
        source = e.source
        self.seq += 1
        span, (d_ticks, d_overruns) = self._ticks.add(now, e.ticks, source.overruns)
        targets = self._targets_now(now)
        values = e.values
        if tuple(values) != self._signal_names:  # the row's names change rarely
            self._signal_names = tuple(values)
            self._signals = _signal_infos(e, self._signal_names)
        last_audio = getattr(e, "_last_audio", None)
        audio_age = None if last_audio is None else max(0.0, now - last_audio)
        source_state = str(getattr(source, "state", "unknown"))
        device_state = source_state
        if (source_state == "running" and state == "running" and audio_age is not None
                and audio_age > AUDIO_STALL_S):
            device_state = "stalled"
        mapping = next((o for o in e.outputs if hasattr(o, "outputs")), None)
        control = getattr(e, "control", None)
        watch = getattr(e, "input_watch", None)
        latency = self._latency_samples(now)  # before _latency_cache is read below
        snap = Snapshot(
            seq=self.seq, time=time.time(), monotonic=time.monotonic(), started=self.started,
            engine_state=state, priority=str(getattr(e, "priority", "normal")),
            source_kind=str(getattr(source, "kind", "source")),
            source_description=_describe(source), source_state=source_state,
            device_state=device_state, input_state=_input_state(e, device_state, now),
            silent_for=_silent_for(e, now), nonfinite=int(getattr(watch, "nonfinite", 0)),
            audio_age=audio_age,
            values=MappingProxyType(dict(values)), fired=MappingProxyType(dict(e.fired)),
            signals=self._signals, levels=MappingProxyType(_levels(e)),
            packets=e.ticks, held=e.held_ticks,
            packets_per_s=d_ticks / span if span > 0 else 0.0,
            sent=sum(t.sent for t in targets), drops=sum(t.drops for t in targets),
            refused=sum(t.refused for t in targets), overruns=source.overruns,
            xruns=source.xruns, restarts=e.restarts,
            overruns_per_s=d_overruns / span if span > 0 else 0.0,
            latency_samples=latency, _latency_cache=self._latency_cache,
            output_rate=e.output_rate, targets=targets,
            mapping_path=_mapping_path(mapping), last_reload=getattr(mapping, "last_reload", None),
            control=control.describe() if callable(getattr(control, "describe", None)) else None,
            events=tuple(e.events.recent(EVENTS_KEPT)), link=_link_status(),
            **dict(zip(("input_rate", "resampler_delay_ms"), resampling(e, design=False))))
        e.snapshot = snap  # the one publication: readers take this reference
        return snap

    # ---- parts ----------------------------------------------------------------------------------
    def _latency_samples(self, now: float) -> tuple:
        """The engine's latency samples, copied again at most every LATENCY_EVERY_S (a snapshot
        in between shares the last copy: the same tuple, so its readers' percentiles too)."""
        lat = self.engine.latency
        if now - self._latency_at >= LATENCY_EVERY_S and lat.count != self._latency_count:
            self._latency_at, self._latency_count = now, lat.count
            self._latency, self._latency_cache = lat.samples(), {}
        return self._latency

    def _targets_now(self, now: float) -> tuple:
        out = []
        seen = set()
        for output in self.engine.outputs:
            for name, sink in sinks_of(output).items():
                seen.add(name)
                if self._checked.get(name) != id(sink):  # new (start, or a reload reopened it)
                    self._checked[name] = id(sink)
                    self._check_address(name, sink)
                sent, drops = int(getattr(sink, "sent", 0)), int(getattr(sink, "drops", 0))
                refused = int(getattr(sink, "refused", 0))
                window = self._targets.get(name)
                if window is None:
                    window = self._targets[name] = _Window()
                span, (d_sent, d_drops) = window.add(now, sent, drops)
                dropping = d_drops >= DROP_MIN and d_drops > DROP_THRESHOLD * (d_sent + d_drops)
                transport = getattr(sink, "transport", None)
                listening = (refused <= self._refused_seen.get(name, refused)
                             and getattr(transport, "connected", True))
                self._refused_seen[name] = refused
                backlog = _tcp_backlog(transport)
                reading = self._reading(name, now, backlog)
                description = _describe(sink)
                self._report(name, description, dropping, listening, d_drops, d_sent, span,
                             transport)
                self._report_reading(name, description, reading, backlog)
                out.append(Target(name, description, sent, drops, refused,
                                  d_drops / span if span > 0 else 0.0, dropping, listening,
                                  backlog, reading))
        for name in set(self._targets) - seen:  # retired by a reload
            del self._targets[name]
            self._checked.pop(name, None)
            self._dropping.discard(name)
            self._refusing.discard(name)
            self._unread.discard(name)
            self._unread_since.pop(name, None)
        return tuple(out)

    def _reading(self, name: str, now: float, backlog: int | None) -> bool:
        """False once ``backlog`` stayed at UNREAD_BYTES or more for WINDOW_S."""
        if backlog is None or backlog < UNREAD_BYTES:
            self._unread_since.pop(name, None)
            return True
        since = self._unread_since.setdefault(name, now)
        return now - since < WINDOW_S

    def _report_reading(self, name, description, reading, backlog) -> None:
        if not reading and name not in self._unread:
            self._unread.add(name)
            self.engine.events.emit(
                "output", f"{name} ({description}) accepted the connection but does not read: "
                f"{backlog // 1024} KiB sent are waiting unread (the receiver is frozen or "
                "stuck); still sending", level=logging.WARNING)
        elif reading and name in self._unread:
            self._unread.discard(name)
            self.engine.events.emit("output", f"{name} ({description}) reads again")

    def _report(self, name, description, dropping, listening, d_drops, d_sent, span,
                transport=None) -> None:
        """Events for a target's drops and listener. One problem is one line in the log: the
        sink or its transport already wrote the line for "nothing is listening" (UDP's first
        refusal, WLED's, TCP's "cannot connect", one per outage) and TCP's reconnect, so those
        events are recorded for the status page and ``/health`` without a second line, and drops
        while nothing listens (their cause, already said) are not a line of their own either."""
        events = self.engine.events
        if dropping and name not in self._dropping:
            self._dropping.add(name)
            events.emit("output", f"{name} ({description}) is dropping packets: {d_drops} of "
                        f"{d_drops + d_sent} in the last {span:.1f} s (the receiver, the network "
                        "or the address: see the start-up warnings)", level=logging.WARNING,
                        log=listening and name not in self._refusing)
        elif not dropping and name in self._dropping and d_drops == 0:
            self._dropping.discard(name)
            events.emit("output", f"{name} ({description}) sends without drops again",
                        log=listening)
        if not listening and name not in self._refusing:
            self._refusing.add(name)
            events.emit("output", f"nothing is listening at {name} ({description}); still "
                        "sending", level=logging.WARNING, log=False)
        elif listening and name in self._refusing and d_sent > 0:
            self._refusing.discard(name)
            events.emit("output", f"{name} ({description}): a receiver is listening again",
                        log=not getattr(transport, "logs_reconnect", False))

    def _check_address(self, name: str, sink) -> None:
        from bridge.runtime.targets import target_warnings

        try:
            problems = target_warnings(sink)
        except Exception as exc:  # noqa: BLE001 - a check must never cost the show
            log.debug("checking %s: %s", name, exc)
            return
        for problem in problems:
            self.engine.events.emit("output", f"{name}: {problem}", level=logging.WARNING)


def _tcp_backlog(transport) -> int | None:
    """Bytes in a TCP transport's connection not yet acknowledged by the receiver (Linux
    ``SIOCOUTQ``, one ioctl), or None (UDP, not connected, another system)."""
    sock = getattr(transport, "socket", None)
    if sock is None:
        return None
    try:
        import fcntl
        import struct
        import termios

        return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]
    except (ImportError, OSError, ValueError, AttributeError):
        return None


def _signal_infos(engine, names) -> tuple:
    catalog = next((getattr(o, "catalog", None) for o in engine.outputs
                    if getattr(o, "catalog", None) is not None), None)
    if catalog is None:
        try:
            from bridge.signals.catalog import CATALOG as catalog
        except ImportError:
            catalog = {}
    infos = []
    for name in names:
        try:
            s = catalog[name]
            infos.append(SignalInfo(name, s.kind, float(s.range[0]), float(s.range[1])))
        except Exception:  # noqa: BLE001 - a name the catalog does not know: a plain level
            infos.append(SignalInfo(name, "continuous", 0.0, 1.0))
    return tuple(infos)


def _link_status() -> str | None:
    """The Ableton Link session's status line (a string the Link thread's state gives), if any."""
    from bridge.sinks.link_session import status

    return status()


def _levels(engine) -> dict:
    try:
        return dict(engine.levels())
    except Exception:  # noqa: BLE001 - a status detail, never a reason to stop
        return {}


def _describe(thing) -> str:
    try:
        return str(thing.describe())
    except Exception:  # noqa: BLE001
        return type(thing).__name__


def _mapping_path(mapping) -> str | None:
    if mapping is None:
        return None
    outputs = getattr(mapping, "outputs", None)
    return str(getattr(outputs, "path", None) or getattr(mapping, "path", None))


def _input_state(e, device_state: str, now: float) -> str | None:
    """The input's state: ``lost`` while the device is away (lost, stalled), else the engine's
    :class:`~bridge.runtime.input_watch.InputWatch` state (starting, ok, silent)."""
    if device_state in ("lost", "stalled"):
        return "lost"
    watch = getattr(e, "input_watch", None)
    return _maybe_str(getattr(watch, "state", getattr(e, "input_state", None)))


def _silent_for(e, now: float) -> float | None:
    watch = getattr(e, "input_watch", None)
    if watch is None:
        return _maybe_float(getattr(e, "silent_for", None))
    return _maybe_float(watch.silent_for(now))


def _maybe_str(x) -> str | None:
    return None if x is None else str(x)


def _maybe_float(x) -> float | None:
    try:
        return None if x is None else float(x)
    except (TypeError, ValueError):
        return None
