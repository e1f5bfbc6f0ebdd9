"""`Engine`: the live daemon's one working thread: blocks -> resampler -> extractor -> stages -> outputs.

Why one thread: every stage is stateful and cheap (tens of µs per frame); locks, hand-offs and GIL
contention between worker threads would cost more than the work and make latency jittery. The audio
callback only enqueues (see :mod:`bridge.sources.base`); this loop does everything else.

Timing model. Frames come at the spec's frame rate (60 fps -> hop 368 at 22,050 Hz). Output ticks are
scheduled in *stream time* (the end of the newest frame): a tick is due when the newest frame reaches
the next tick time, so the output rate follows the audio clock, never drifts from it, and at most one
packet goes out per frame. When the audio stops arriving (device lost, stalled), the engine switches to
the wall clock: after ``hold_after`` seconds without audio it re-sends the last values at the output
rate (``on_loss="hold"``) or sets the outputs to their idle values once (``on_loss="idle"``).

When packets leave. The stream resampler (:mod:`bridge.audio.resample`) hands out the samples of
every block, held back only by its ~2.5 ms filter half-length, so a frame is complete as soon as the
device block holding its last sample arrives: on the device's block grid (10 ms blocks: 10 or 20 ms
apart). A source that delivers in real time (a device, the demo, a file at speed 1) is *paced*: each
frame's packet leaves at its stream time plus the recent lateness (:class:`bridge.runtime.pacing.
Pacer`), so packets are evenly spaced on the audio clock and a frame waits on average half a block.
Its events do not wait: a trigger at 1.0 or a rise of onset goes out on arrival, in its own small
packet (an output's ``route_early``: the mapping's routes of just those signals), and the paced
packet leaves them out. A faster source (a file at ``--speed 0``) sends each frame as soon as it exists.

Wake-ups. A 10 ms block completes a 60 Hz frame only every 1-2 blocks, and every wake-up of this
thread costs ~70-150 µs of CPU at real time (caches gone after ~10 ms; tests/bench/latency/PROFILE.md).
So after each block the engine tells the source how many samples its next frame needs
(``source.wake_at``, through :meth:`StreamResampler.inputs_for`) and the source wakes it only when
they are in (:mod:`bridge.sources.base`): the blocks before wait in the queue and are processed on
the same wake-up, in order, so a frame leaves when the block that completes it arrives, as before.

Triggers at the speed of the attack (``fast_triggers=True``, ``vjbridge run``'s default, ``--triggers
fast``): every device block's mono samples go through :class:`bridge.signals.fast_triggers.
FastTriggers` (a 5 ms hop at the device rate) *before* the resampler, and each ``onset``, ``kick``
or ``snare`` it decides goes out at once, in its own small packet (``route_early``, as the frames'
events above), on the wake-up of the block that holds it. So the source wakes the engine on every
block (``wake_at = 0``) instead of once per frame: ~200 wake-ups a second with 5 ms blocks. One
source of truth per name: ``kick`` and ``snare`` in the frames' rows are 0 (the 1.0 went out
early; the next row leaves the route out), and ``onset``, a continuous level, keeps its 60 Hz
value, except that after a fast onset the frames up to the level's peak say 1.0 (frames of the
audio before the attack, then those the attack is still entering), so a receiver sees one rise,
early, then the level falling from its peak; a rise of the 60 Hz level alone is no event then.
A paced frame is then routed at its time rather than on arrival, so an event decided while it
waited reaches it (:meth:`Engine._route_fast`), and the frames' own trigger (``beat``) goes with
its frame.

Latency is measured where it happens: for every block that leads to a packet, ``sent - arrival``
(arrival = the time the callback received the block). Audio buffered inside the pipeline (the
resampler's hold-back plus samples waiting for the next hop) is measured separately, per tick.

Outputs with a ``poll()`` method (the mapping: reload when its file changed) are polled once a
second on this thread, between blocks. Live control changes (``vjbridge run --control``, see
:mod:`bridge.runtime.control`) arrive already validated on ``control.queue`` and are applied here,
between blocks too: one truth test per loop when none is waiting.

Priority: with ``realtime=True`` (``vjbridge run``'s default) the thread asks for ``SCHED_FIFO`` as
audio servers do, falling back to nice -10, then normal (:mod:`bridge.runtime.priority`), once the
stages and outputs have started (loading the models is slow work that must not run real-time).

Lifecycle: stages start in order, then outputs, then the source; on exit (normal, error, SIGINT via
the ``stop`` event) the source stops first, outputs go idle and close, stages close, in a ``finally``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

import numpy as np

from bridge.audio.features import FeatureExtractor
from bridge.audio.resample import StreamResampler
from bridge.audio.spec import FeatureSpec
from bridge.errors import ConfigError
from bridge.runtime.latency import Rolling
from bridge.runtime.stages import Columns, Vectors

log = logging.getLogger(__name__)

_add_reduce = np.add.reduce

#: The live feature spec: 60 frames/s (hop 368 at 22,050 Hz).
LIVE_SPEC = FeatureSpec(fps=60.0)
#: A paced frame due within this many seconds goes now (waking up costs about as much).
_EARLY_OK = 0.0005
#: The rise of ``onset`` from one frame to the next that counts as an event (sent on arrival).
_ONSET_RISE = 0.1


class Engine:
    """Runs ``source`` through the extractor and ``stages`` into ``outputs`` on the calling thread."""

    def __init__(self, source, stages, outputs, *, spec: FeatureSpec = LIVE_SPEC,
                 output_rate: float = 60.0, on_loss: str = "hold", hold_after: float = 0.25,
                 timer_clock=time.perf_counter, realtime: bool = False, events=None,
                 pace: bool | None = None, fast_triggers: bool = False):
        if not (output_rate > 0 and output_rate <= 1000):
            raise ConfigError(f"the output rate must be in (0, 1000] Hz; got {output_rate}")
        if on_loss not in ("hold", "idle"):
            raise ConfigError(f"on_loss must be 'hold' or 'idle'; got {on_loss!r}")
        self.source = source
        self.stages = list(stages)
        #: stages that read the resampled audio itself (``feed(samples)``, before its frames)
        self._feeds = [s.feed for s in self.stages if callable(getattr(s, "feed", None))]
        self.outputs = list(outputs)
        self.spec = spec
        self.output_rate = float(output_rate)
        self.on_loss = on_loss
        self.hold_after = float(hold_after)
        self.extractor = FeatureExtractor(spec)
        self._hop, self._n_fft, self._sr = spec.hop_length, spec.n_fft, float(spec.sample_rate)
        self._window_s = spec.window_seconds
        self.resampler: StreamResampler | None = None
        # even packets (see "When packets leave"); None: pace a source that delivers in real time
        self.pace = pace
        self.pacer = None  # bridge.runtime.pacing.Pacer while paced
        self.early_sent = 0  # early event packets (triggers, onset rises) sent before their tick
        self.paced_wait = Rolling()  # how long a frame waited for its paced send (s)
        # paced frames routed and waiting for their time, oldest first: (due, packets, arrival,
        # ready), packets = [(transmit, packet)] per output (see _route)
        self._pending: deque = deque()
        self._triggers: set[str] = set()
        self._onset_before = 0.0
        # fast triggers (see "Triggers at the speed of the attack"): a FastTriggers per stream
        self.fast_triggers = bool(fast_triggers)
        self.fast = None
        self.fast_tuning: dict[tuple, tuple] = {}  # live controls, replayed on a new stream
        self.fast_sent = 0  # fast events sent
        self.fast_latency = Rolling()  # block arrival -> its fast event sent (s)
        self._onset_hold = -1.0  # stream time (s) of the attack a fast onset reported, or -1
        self._onset_prev = 0.0
        # live counters, read by the status line from another thread
        self.values: dict[str, float] = {}
        self.last_frame: np.ndarray | None = None
        self.frames = 0
        self.ticks = 0
        self.held_ticks = 0
        self.restarts = 0
        self.started_at: float | None = None
        self.first_packet_at: float | None = None
        self.latency = Rolling()  # block arrival -> packet sent (s)
        self.buffered = Rolling()  # audio inside the pipeline at each tick (s)
        self.timers = {"extract": Rolling()} | {s.name: Rolling() for s in self.stages}
        self.timers["send"] = Rolling()
        if self.fast_triggers:
            self.timers["triggers"] = Rolling()  # FastTriggers.process, per device block
        # what the per-stage timers read: wall time, or time.thread_time for the benchmark on a
        # shared machine (CPU time of this thread only; a syscall, so not the default)
        self.timer_clock = timer_clock
        # raise the engine thread to real-time priority when run() starts (see runtime.priority)
        self.realtime = realtime
        self.priority = "normal"
        self.error: BaseException | None = None
        # what happened to the show (device lost, reloads, silence...): for the status page,
        # /health and the log, rate-limited (bridge.runtime.events); emit rarely, never per frame
        if events is None:
            from bridge.runtime.events import Events

            events = Events()
        self.events = events
        # NaN/inf blocks -> silence (counted, one event), and the input's silence state
        from bridge.runtime.input_watch import InputWatch

        self.input_watch = InputWatch(events=events)
        for output in self.outputs:  # outputs that report (a mapping reload) report here
            if hasattr(output, "events"):
                output.events = events
            if hasattr(output, "stage_sink"):  # a changed mapping's new stages come here
                output.stage_sink = self.add_stages
        if hasattr(source, "events"):  # so does a sound card (an input-latency fallback)
            source.events = events
        # live changes: an object with a ``queue`` (truthy when changes wait) and
        # ``apply_pending()`` (bridge.runtime.control.ControlPort), or None
        self.control = None
        # sd_notify (bridge.runtime.sdnotify.Notifier) when systemd started us, or None: ticked
        # between blocks so a stalled engine stops the watchdog pings
        self.notify = None
        # the show's state for every reader (status line, status page, /health): an immutable
        # bridge.runtime.snapshot.Snapshot, replaced every snapshot_interval s between blocks
        self.snapshot = None
        self.snapshot_interval = 0.2
        self.fired: dict[str, int] = {}  # trigger name -> times it fired (the page flashes them)
        self.count_triggers = False  # count them (~0.4 µs a tick): on when a status page is open
        self._fired_names: tuple[str, ...] = ()
        self._publisher = None

    # ---- lifecycle ------------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None, *, duration: float | None = None) -> None:
        """Start everything, process until ``stop`` is set / ``duration`` passes / a file ends."""
        stop = stop or threading.Event()
        self._stop = stop  # request_stop() sets it (the control port's /vjbridge/control/stop)
        started: list[tuple[str, object]] = []
        saved = None
        try:
            self._publish(state="starting")
            for stage in self.stages:  # model loading imports and parses: at normal priority
                stage.start()
                started.append(("stage", stage))
            for output in self.outputs:
                output.start()
                started.append(("output", output))
            if self.realtime:  # only now: a SCHED_FIFO thread importing onnxruntime on a busy
                # machine was seen starving itself for 20 s behind another real-time process
                from bridge.runtime.priority import raise_priority, save_priority

                saved = save_priority()
                self.priority = raise_priority()
                log.info("engine thread priority: %s", self.priority)
            self._warm_up()
            self.started_at = time.perf_counter()
            self.source.start()
            started.append(("source", self.source))
            # --duration counts audio time from the moment the source runs, not its opening
            deadline = None if duration is None else time.perf_counter() + duration
            self._loop(stop, deadline)
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            if self.notify is not None:
                self.notify.stopping()
            self._publish(state="stopped")  # readers see the end, not a stalled engine
            idled = set()  # idle values first: a source stuck in stop() must not hold them back
            for kind, component in started:
                if kind == "output":
                    idled.add(id(component))
                    try:
                        component.idle()
                    except Exception as exc:  # noqa: BLE001
                        log.error("while idling an output: %s", exc)
            for kind, component in reversed(started):
                try:
                    if kind == "source":
                        component.stop()
                    elif kind == "output":
                        if id(component) not in idled:
                            component.idle()
                        component.close()
                    else:
                        component.close()
                except Exception as exc:  # noqa: BLE001 - keep shutting the rest down
                    log.error("while stopping %s: %s", kind, exc)
            if saved is not None:  # the calling thread as it was (it may not be ours)
                from bridge.runtime.priority import restore_priority

                restore_priority(saved)

    def tune_fast(self, method: str, name: str, *args) -> None:
        """A live control of a trigger (``set_min_rise``/``set_band`` of
        :class:`~bridge.signals.fast_triggers.FastTriggers`), on the engine thread: applied to the
        fast detector when it runs, and kept for the next stream's."""
        if not self.fast_triggers:
            return
        self.fast_tuning[(method, name)] = (method, name, *args)
        if self.fast is not None:
            getattr(self.fast, method)(name, *args)

    def request_stop(self) -> None:
        """Stop as a stop signal would (from any thread): the loop ends at its next turn."""
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()

    def _warm_up(self) -> None:
        """Run a little silence through the extractor and stages, then forget it: FFT plans,
        ONNX sessions and caches get built now instead of on the first live blocks (which would
        otherwise queue up behind a several-hundred-ms first call)."""
        from bridge.runtime.optional_stages import warm_up

        warm_up(self.stages, self.spec, extractor=self.extractor)
        StreamResampler(48000, self.spec.sample_rate).process(np.zeros(480))

    def add_stages(self, new: list) -> None:
        """Engine thread, between frames: ``new`` stages (started and warmed up elsewhere: a
        changed mapping's, :mod:`bridge.runtime.optional_stages`) run from the next frame on.
        New lists and dicts, not edits: readers on other threads iterate the old ones."""
        new = [s for s in new if s.name not in self.timers]
        if not new:
            return
        self.stages = [*self.stages, *new]
        self._feeds = [s.feed for s in self.stages if callable(getattr(s, "feed", None))]
        self.timers = {**self.timers, **{s.name: Rolling() for s in new}}
        log.info("stages added for the new mapping: %s", ", ".join(s.name for s in new))

    def _loop(self, stop: threading.Event, deadline: float | None) -> None:
        period = 1.0 / self.output_rate
        self._next_tick = 0.0
        self._generation = None
        self._last_audio = time.perf_counter()
        self._last_send = 0.0
        self._idled = False
        self._consumed = 0  # samples read from the source (its ``pushed`` counts the same way)
        self._triggers = _trigger_names()
        self._fired_names = tuple(sorted(self._triggers)) if self.count_triggers else ()
        self.fired = dict.fromkeys(self._fired_names, 0)
        pace = self.pace if self.pace is not None else getattr(self.source, "speed", 1.0) == 1.0
        if pace:
            from bridge.runtime.pacing import Pacer

            self.pacer = Pacer()
        # per output, once (not a getattr per frame): (route, route_early, transmit, send)
        self._routers = [(getattr(o, "route", None), getattr(o, "route_early", None),
                          getattr(o, "transmit", None), o.send) for o in self.outputs]
        self._pending = deque()
        self._onset_before = 0.0
        self._onset_hold = -1.0
        self._held: list = []  # fast triggers: mono blocks waiting for the one that completes a frame
        self._frame_at = 0  # ...which is the block that brings _consumed to this count
        self._block_s = 0.0  # the newest device block's length (s), for the pacer
        polls = [o.poll for o in self.outputs if callable(getattr(o, "poll", None))]
        next_poll = time.perf_counter() + 1.0
        next_snapshot = 0.0
        changes = self.control.queue if self.control is not None else ()
        notify = self.notify
        while not stop.is_set():
            if changes:  # live control changes, validated off this thread: apply between blocks
                self.control.apply_pending()
                period = 1.0 / self.output_rate
            now = time.perf_counter()
            if notify is not None and now >= notify.due:  # sd_notify: watchdog, READY, STATUS
                notify.tick(self)
            if deadline is not None and now >= deadline:
                break
            if now >= next_snapshot:  # the readers' state, a few times a second, between blocks
                next_snapshot = now + self.snapshot_interval
                self._publish(now)
            if polls and now >= next_poll:  # e.g. reload an edited mapping, once a second
                next_poll = now + 1.0
                for poll in polls:
                    try:
                        poll()
                    except Exception as exc:  # noqa: BLE001 - a failed reload keeps the old one
                        log.error("output poll failed: %s", exc)
            # wait for audio up to 50 ms, but no later than a hold tick could become due (the
            # tick period once audio is hold_after late): a device that delivers in bursts no
            # longer wakes the engine ~50 times a second for nothing (CPU, issue 9)
            timeout = min(0.05, max(period, self._last_audio + self.hold_after - now))
            pending = self._pending
            if pending:  # wake for the paced frame's time, not later
                timeout = min(timeout, max(0.0, pending[0][0] - now))
            block = self.source.read(timeout=timeout)
            if block is not None:
                self._process(block, period)
            if pending and time.perf_counter() >= pending[0][0] - _EARLY_OK:
                self._send_pending(time.perf_counter() + _EARLY_OK)
            if block is None:
                if self.source.finished:
                    break
                self._gap(period)
        # a finite stream: flush the resampler so the file's last frames go out too
        if self.source.finished and self.resampler is not None and not stop.is_set():
            if self._held:  # fast triggers: the last blocks that completed no frame
                y = self.resampler.process(np.concatenate(self._held))
                self._held = []
                if y.size:
                    for feed in self._feeds:
                        feed(y)
                    self._frames(self.extractor.process(y), period, None)
            tail = self.resampler.flush()
            if tail.size:
                for feed in self._feeds:
                    feed(tail)
                self._frames(self.extractor.process(tail), period, None)
        if self._pending:
            self._send_pending()

    # ---- the work -------------------------------------------------------------------------------
    def _restart(self, rate: float) -> None:
        """A new stream (first block, or the device came back): forget all audio history."""
        if self._generation is not None:
            self.restarts += 1
            log.info("audio stream restarted at %g Hz: resetting the pipeline", rate)
        self.resampler = StreamResampler(rate, self.spec.sample_rate)
        self.input_watch.reset()
        if self.fast_triggers:
            from bridge.signals.fast_triggers import FastTriggers

            self.fast = FastTriggers(rate)
            for (method, *args) in self.fast_tuning.values():
                getattr(self.fast, method)(*args)
            self._onset_hold = -1.0
            self._held = []
            self._frame_at = self._consumed
        self.extractor.reset()
        for stage in self.stages:
            stage.reset()
        self._next_tick = 0.0
        if self._pending:  # the old stream's last frames go now
            self._send_pending()
        if self.pacer is not None:
            self.pacer.reset()

    def _process(self, block, period: float) -> None:
        if block.generation != self._generation:
            self._restart(block.rate)
            self._generation = block.generation
        self._last_audio = time.perf_counter()
        self._idled = False
        x = block.samples
        self._consumed += x.shape[0]
        self._block_s = x.shape[0] / block.rate if block.rate else 0.0
        mono = x[:, 0] if x.shape[1] == 1 else downmix(x)
        mono = self.input_watch.process(mono, block.arrival)  # NaN -> silence; silence state
        clock, timer, process = self.timer_clock, self.timers["extract"], self.extractor.process
        if self.fast is not None:  # before the resampler: an event leaves on this wake-up
            t0 = clock()
            events = self.fast.process(mono)
            self.timers["triggers"].add(clock() - t0)
            if events:
                self._send_fast(events, block.arrival)
            # the 60 Hz path as without fast triggers: the blocks before the one that completes
            # the next frame wait (here instead of in the source's queue), and go through the
            # resampler and the extractor together on that block's wake-up
            if self._consumed < self._frame_at:
                self._held.append(mono)
                return
            if self._held:
                self._held.append(mono)
                mono = np.concatenate(self._held)
                self._held = []
        t0 = clock()
        y = self.resampler.process(mono)
        if y.size:  # ~70% of 10 ms blocks give no samples
            for feed in self._feeds:  # stages with their own extractor (the CPPN z) see the audio
                feed(y)
            # one extractor call per block (~2 hops): its one-frame path computes the frames one
            # by one, so a call saves the per-call checks and buffering of a second call (and a
            # call that completes no frame); the stages still see one frame at a time
            frames = process(y)
            n = frames.shape[0]
            if n:
                share = (clock() - t0) / n  # the block's extraction, shared by its frames
                first = self.extractor.frames_emitted - n
                for i in range(n):
                    timer.add(share)
                    self._frames(frames[i:i + 1], period, block.arrival, first + i)
        # sleep until the next frame can be complete: the blocks before it wait in the source's
        # queue and are read on that wake-up, one wake-up per frame instead of per block (~70-150
        # µs of CPU each at real time; bridge.sources.base); fast triggers: every block wakes it
        # (wake_at stays 0), and the blocks before that one wait in _held
        ex, rs = self.extractor, self.resampler
        at = self._consumed + rs.inputs_for(ex.frames_emitted * self._hop + self._n_fft) \
            - rs.samples_in
        if self.fast is None:
            self.source.wake_at = at
        else:
            self._frame_at = at

    def _frames(self, frames: np.ndarray, period: float, arrival: float | None,
                first: int | None = None) -> None:
        n = frames.shape[0]
        if n == 0:
            return
        results = []
        clock, timers = self.timer_clock, self.timers
        for stage in self.stages:
            t0 = clock()
            results.append(stage.process(frames))
            timers[stage.name].add(clock() - t0)
        self.frames += n
        self.last_frame = frames[-1]
        ex = self.extractor
        hop, n_fft, sr = self._hop, self._n_fft, self._sr  # (spec.hop_length is a property)
        if first is None:
            first = ex.frames_emitted - n  # stream index of frames[0]
        for i in range(n):
            # stream time at which frame i ends; one tick per due frame, in order, so a frame's
            # values (an onset peak) are never skipped when the output rate >= the frame rate
            t_stream = ((first + i) * hop + n_fft) / sr
            if t_stream + 1e-9 < self._next_tick:
                continue
            self._next_tick += period  # a fixed grid in stream time...
            if self._next_tick <= t_stream:  # ...re-anchored when the stream is ahead of it
                self._next_tick = t_stream + period
            row: dict[str, float] = {}
            for values in results:  # later stages win a name, as dict.update would
                if type(values) is Columns:  # one tolist() instead of a float() per name
                    row.update(zip(values.names, values.matrix[i].tolist()))
                elif type(values) is Vectors:  # a vector signal (the mel spectrum): a tuple
                    row.update((key, tuple(v[i].tolist())) for key, v in values.items())
                else:
                    row.update((key, float(v[i])) for key, v in values.items())
            paced = self.pacer is not None and arrival is not None
            if self.fast is not None:  # one source of truth per name (see the module docstring)
                for name in ("kick", "snare"):
                    if name in row:
                        row[name] = 0.0
                if not paced and self._onset_hold >= 0.0 and "onset" in row:
                    self._bridge_onset(row, t_stream)
            self.values = row
            fired = self.fired
            for name in self._fired_names:  # the status page's flashing triggers (none: ~30 ns)
                if row.get(name):
                    fired[name] += 1
            if paced:
                # routed now, in frame order (its events leave at once), transmitted at its time;
                # with fast triggers routed at its time (the events are the fast detector's, and
                # a fast onset must still reach the frames that wait: _route_fast)
                packets = self._route(row) if self.fast is None else (row, t_stream)
                due = self.pacer.due(t_stream, arrival, self._block_s)
                now = time.perf_counter()
                self._pending.append((due, packets, arrival, now))
                if due - now <= _EARLY_OK:
                    self._send_pending(now + _EARLY_OK)
                continue
            sent = self._send(row)
            if arrival is not None:
                self.latency.add(sent - arrival)
        if arrival is not None and self.resampler is not None:
            waiting = ex.samples_seen - ((ex.frames_emitted - 1) * hop + n_fft)
            self.buffered.add((waiting + self.resampler.latency_samples) / sr)

    def _route(self, row: dict) -> list:
        """A paced frame through each output's routing now, in frame order (stateful transforms
        see every frame once and in order), its events sent at once: triggers at 1.0 and a rise
        of onset by at least ``_ONSET_RISE`` (the receivers' "hit"). Returns what is left to
        transmit at the frame's paced time: ``[(transmit, packet)]`` per output. An output with
        ``route``/``route_early``/``transmit`` (the mapping, the raw OSC output) splits the two;
        another gets the whole row at the frame's time through ``send``."""
        onset = row.get("onset")
        early = {name: 1.0 for name in self._triggers if row.get(name, 0.0) >= 0.5}
        if onset is not None:
            if onset - self._onset_before >= _ONSET_RISE:
                early["onset"] = onset
            self._onset_before = onset
        clock = self.timer_clock
        t0 = clock()
        packets = []
        for route, route_early, transmit, send in self._routers:
            if route is None:
                packets.append((send, row))
                continue
            if early:
                transmit(route_early(early))
            packets.append((transmit, route(row)))
        if early:
            self.early_sent += 1
        self.timers["send"].add(clock() - t0)
        return packets

    def _send_fast(self, events: list, arrival: float) -> None:
        """The fast detector's events of one block, sent now in one small packet per output (an
        output without ``route_early`` gets them through ``send``), before any frame holding
        them: ``kick``/``snare`` at 1.0 (the next routed frame leaves their routes out), ``onset``
        at 1.0, and the 60 Hz onset level bridged up to its peak (:meth:`_bridge_onset`)."""
        values = dict.fromkeys((name for name, _ in events), 1.0)
        if "onset" in values:
            if self._onset_hold < 0.0:
                self._onset_prev = 0.0
            self._onset_hold = (max(at for name, at in events if name == "onset") + 1) \
                / self.fast.rate
        clock = self.timer_clock
        t0 = clock()
        for route, route_early, transmit, send in self._routers:
            if route_early is not None:
                transmit(route_early(values))
            else:
                send(values)
        self.timers["send"].add(clock() - t0)
        fired = self.fired
        for name in self._fired_names:  # the status page's flashing triggers
            if name in values and name in fired:
                fired[name] += 1
        self.fast_sent += 1
        self.early_sent += 1
        self.fast_latency.add(time.perf_counter() - arrival)

    def _bridge_onset(self, row: dict, t_stream: float) -> None:
        """After a fast onset (attack at stream time ``_onset_hold``), the 60 Hz level of the same
        attack says 1.0: on frames of the audio before it, then while the level still rises (the
        attack entering the 93 ms window, whose taper first hides it) up to one window after it.
        The first frame that no longer rises goes out as it is, and the bridge ends."""
        level, previous = row["onset"], self._onset_prev
        self._onset_prev = level
        attack = self._onset_hold
        if t_stream < attack or (level > previous and t_stream < attack + self._window_s):
            row["onset"] = 1.0 if level < 1.0 else level
        else:
            self._onset_hold = -1.0

    def _route_fast(self, row: dict, t_stream: float) -> list:
        """With fast triggers, a paced frame is routed at its time, not on arrival: a fast onset
        decided while the frame waited reaches it (:meth:`_bridge_onset`), and the routes the
        fast event sent are left out of this frame, the oldest waiting one, whose values are
        older than the event (on arrival they would be routed before the event and then sent
        after it: onset 1.0, then the older frame's low level, then 1.0 again, a second rise).
        The frames' own triggers (``beat``) go with their frame, not ahead."""
        if self._onset_hold >= 0.0 and "onset" in row:
            self._bridge_onset(row, t_stream)
        return [(send, row) if route is None else (transmit, route(row))
                for route, _, transmit, send in self._routers]

    def _send_pending(self, until: float = float("inf")) -> None:
        """Transmit the paced frames due by ``until`` (all by default), oldest first."""
        pending, clock = self._pending, self.timer_clock
        while pending and pending[0][0] <= until:
            due, packets, arrival, ready = pending.popleft()
            t0 = clock()
            if type(packets) is tuple:  # a fast-trigger frame (row, t_stream): routed now
                packets = self._route_fast(*packets)
            for transmit, packet in packets:
                transmit(packet)
            self.timers["send"].add(clock() - t0)
            sent = self._sent()
            self.paced_wait.add(sent - ready)
            self.latency.add(sent - arrival)

    def _sent(self) -> float:
        sent = time.perf_counter()
        self.ticks += 1
        self._last_send = sent
        if self.first_packet_at is None:
            self.first_packet_at = sent
        return sent

    def _send(self, values: dict[str, float]) -> float:
        clock = self.timer_clock
        t0 = clock()
        for output in self.outputs:
            output.send(values)
        self.timers["send"].add(clock() - t0)
        return self._sent()

    def _gap(self, period: float) -> None:
        """No audio: after ``hold_after`` s, hold the last values (re-sent) or go idle once."""
        now = time.perf_counter()
        if now - self._last_audio < self.hold_after or not self.values:
            return
        if self.on_loss == "idle":
            if not self._idled:
                for output in self.outputs:
                    output.idle()
                self._idled = True
            return
        if now - self._last_send >= period:
            # hold continuous values; a trigger held at 1.0 would fire for ever: hold it at 0
            self._send({k: 0.0 if k in self._triggers else v for k, v in self.values.items()})
            self.held_ticks += 1

    # ---- for the status line and the report --------------------------------------------------------
    def _publish(self, now: float | None = None, *, state: str = "running") -> None:
        """Publish a new :attr:`snapshot` (bridge.runtime.snapshot); a failure is logged once and
        never reaches the show."""
        try:
            if self._publisher is None:
                from bridge.runtime.snapshot import Publisher

                self._publisher = Publisher(self)
            self._publisher.publish(now, state=state)
        except Exception as exc:  # noqa: BLE001 - the show matters more than its picture
            if not getattr(self, "_publish_failed", False):
                self._publish_failed = True
                log.error("cannot publish the engine's state for the status page: %s", exc)

    @property
    def drops(self) -> int:
        return sum(int(getattr(o, "drops", 0)) for o in self.outputs)

    @property
    def refused(self) -> int:
        """Packets refused because nothing listens at a target (not a fault: counted apart)."""
        return sum(int(getattr(o, "refused", 0)) for o in self.outputs)

    def levels(self) -> dict[str, float]:
        """rms of the newest frame, and low/mid/high: the signals' 0..1 auto-gained levels when a
        signal stage produces them, else the mean mel dB of each third of the bands."""
        frame = self.last_frame
        if frame is None:
            return {}
        n = self.spec.n_mels
        out = {"rms": float(frame[n])}
        values = self.values
        if all(k in values for k in ("low", "mid", "high")):
            out.update((k, values[k]) for k in ("low", "mid", "high"))
            return out
        third = n // 3
        out.update(low=float(frame[:third].mean()), mid=float(frame[third:2 * third].mean()),
                   high=float(frame[2 * third:n].mean()), db=1.0)
        return out


def downmix(x: np.ndarray) -> np.ndarray:
    """``x.mean(axis=1)`` of a ``(n, channels)`` block, bit for bit, at a third of its cost.

    ``mean`` runs numpy's Python-level ``_mean`` (~12 % of the engine's Python samples on a stereo
    device, once), and ``np.add.reduce(x, axis=1)`` walks a 2-wide axis in an inner loop per row
    (~15 % of them on the pulse daemon after that). Below 8 terms numpy's reduction adds in order,
    ``x0 + x1 + ...``, so column additions give the same sums (tests/runtime/test_engine.py checks
    1-12 channels); from 8 channels on its pairwise summation is kept."""
    c = x.shape[1]
    if c >= 8:
        return _add_reduce(x, axis=1) / c
    mono = x[:, 0] + x[:, 1]
    for j in range(2, c):
        mono += x[:, j]
    mono /= c
    return mono


def _trigger_names() -> set[str]:
    """Names the signal catalog declares as triggers (1.0 on an event frame), if it is there."""
    try:
        from bridge.signals.catalog import CATALOG
    except ImportError:
        return set()
    return {name for name in CATALOG.names() if CATALOG[name].is_trigger}
