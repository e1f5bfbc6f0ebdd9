"""`Engine`: the live daemon's one working thread: blocks -> resampler -> extractor -> stages -> outputs.

Why one thread: every stage is stateful and cheap (tens of µs per frame); locks, hand-offs and GIL
contention between worker threads would cost more than the work and make latency jittery. The audio
callback only enqueues (see :mod:`bridge.sources.base`); this loop does everything else.

Timing model. Frames come at the spec's frame rate (60 fps -> hop 368 at 22,050 Hz), but not
evenly: soxr's "HQ" stream resampler releases its output in chunks of ~736 samples at 48 kHz (830 at
44.1 kHz), so two frames complete at once every ~33 ms, and device blocks (10 ms) quantise when a
frame can complete. Two ways to tick:

- *Paced* (a source that delivers in real time: a device, the demo, a file at speed 1): ticks on an
  even wall-clock grid at the output rate, one packet per tick. A tick sends the newest completed
  frame's values; the peak signals (triggers, onset) as their maximum over every frame since the
  last tick, so none is lost when two frames complete between ticks; a tick that found no new frame
  while audio flows re-sends the newest values with triggers at 0. The grid locks to the audio's
  arrival: once a second the arrival phase of the new frames within the period is estimated (the
  largest circular gap between arrivals marks where a cluster ends) and the tick is moved to just
  after it (``_MARGIN``), at most ``_SLEW`` per tick, so packets stay evenly spaced while they
  follow the audio clock. Before this, frames were sent the moment they completed and packets left
  in pairs ~1 ms apart every ~33 ms (55 % of gaps under 2 ms, tests/bench/latency); now a frame
  waits for its tick, 0-7 ms with 10 ms blocks (the cost of even spacing; the triggers do not wait).
- *Stream time* (a file faster than real time): a tick is due when the newest frame reaches the next
  tick time in stream time, at most one per frame, as fast as the file is read.

When the audio stops arriving (device lost, stalled), the paced grid keeps re-sending the newest
values (triggers at 0) for ``hold_after`` seconds, so a hiccup of the audio server (bursts 50-200 ms
apart on a loaded machine) does not thin the packet stream, then stops, and the engine switches to
the wall clock as before: after ``hold_after`` seconds without
audio it re-sends the last values at the output rate (``on_loss="hold"``, triggers at 0) or sets the
outputs to their idle values once (``on_loss="idle"``); the next frame restarts the grid at once.

Triggers at the speed of the attack (``early_triggers=True``, ``vjbridge run``'s default): the
mono device-rate samples of every block go through :class:`bridge.signals.fast_triggers.
FastTriggers` (5 ms hop) *before* the resampler, and each onset/kick/snare event is sent at once
to the outputs' routes that carry it (``send_early``: its own small bundle), not at the next tick.
The ticks stay consistent with it: kick and snare in the tick rows come from the fast detector
(1.0 on the first tick after the event, which the output leaves out as already sent, so a
receiver counting 1.0s counts one; 0 otherwise), and frames of audio from before an early onset
keep onset at 1.0 so the level does not dip back between the early message and the frame that
holds the attack. Continuous signals and model outputs keep their 60 Hz ticks.

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
#: Paced ticks: how long after the latest frame arrival of the period the tick comes (s), and the
#: most the grid's phase moves per tick while it locks to the audio (s).
_MARGIN = 0.0005
_SLEW = 0.0003


class Engine:
    """Runs ``source`` through the extractor and ``stages`` into ``outputs`` on the calling thread."""

    def __init__(self, source, stages, outputs, *, spec: FeatureSpec = LIVE_SPEC,
                 output_rate: float = 60.0, on_loss: str = "hold", hold_after: float = 0.25,
                 timer_clock=time.perf_counter, realtime: bool = False, events=None,
                 early_triggers: bool = False):
        if not (output_rate > 0 and output_rate <= 1000):
            raise ConfigError(f"the output rate must be in (0, 1000] Hz; got {output_rate}")
        if on_loss not in ("hold", "idle"):
            raise ConfigError(f"on_loss must be 'hold' or 'idle'; got {on_loss!r}")
        self.source = source
        self.stages = list(stages)
        self.outputs = list(outputs)
        self.spec = spec
        self.output_rate = float(output_rate)
        self.on_loss = on_loss
        self.hold_after = float(hold_after)
        self.extractor = FeatureExtractor(spec)
        self._hop, self._n_fft, self._sr = spec.hop_length, spec.n_fft, float(spec.sample_rate)
        self.resampler: StreamResampler | None = None
        # fast triggers (see "Triggers at the speed of the attack" above): on for `vjbridge run`
        self.early_triggers = bool(early_triggers)
        self.fast = None  # bridge.signals.fast_triggers.FastTriggers at the device rate, per stream
        self.fast_tuning: dict[str, tuple] = {}  # live controls, replayed on a new stream
        self.early_sent = 0  # events sent between ticks
        self.early_latency = Rolling()  # block arrival -> early event sent (s)
        self.repeats = 0  # paced ticks that found no new frame and re-sent the newest values
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
        if self.early_triggers:
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
        for output in self.outputs:  # outputs that report (a mapping reload) report here
            if hasattr(output, "events"):
                output.events = events
        if hasattr(source, "events"):  # so does a device (an input-latency fallback)
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

    def request_stop(self) -> None:
        """Stop as a stop signal would (from any thread): the loop ends at its next turn."""
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()

    def _warm_up(self) -> None:
        """Run a little silence through the extractor and stages, then forget it: FFT plans,
        ONNX sessions and caches get built now instead of on the first live blocks (which would
        otherwise queue up behind a several-hundred-ms first call)."""
        spec = self.spec
        silence = np.zeros(spec.n_fft + 8 * spec.hop_length)
        frames = self.extractor.process(silence[:spec.n_fft])
        for i in range(8):
            frames = self.extractor.process(silence[spec.n_fft + i * spec.hop_length:
                                                    spec.n_fft + (i + 1) * spec.hop_length])
            for stage in self.stages:
                stage.process(frames)
        StreamResampler(48000, spec.sample_rate).process(np.zeros(480))
        self.extractor.reset()
        for stage in self.stages:
            stage.reset()

    def _loop(self, stop: threading.Event, deadline: float | None) -> None:
        period = 1.0 / self.output_rate
        self._next_tick = 0.0
        self._generation = None
        self._last_audio = time.perf_counter()
        self._last_send = 0.0
        self._idled = False
        self._triggers = _trigger_names()
        self._fired_names = tuple(sorted(self._triggers)) if self.count_triggers else ()
        self.fired = dict.fromkeys(self._fired_names, 0)
        # paced: a source that delivers in real time (a device, the demo, a file at speed 1)
        # gets ticks on an even wall-clock grid; a faster one (a file at --speed 0 or 2) keeps
        # one tick per due frame in stream time, as fast as it comes
        self._paced = getattr(self.source, "speed", 1.0) == 1.0
        self._due: float | None = None  # wall time of the next paced tick (None: grid stopped)
        self._fresh = False  # a frame completed since the last tick
        self._latest: dict | None = None  # the newest frame's row (paced)
        self._peaks: dict[str, float] = {}  # max of peak signals over the frames since the tick
        self._fresh_arrival: float | None = None
        self._last_frame_at = 0.0
        self._waits: list[float] = []  # per new frame: how long it waited for its tick (s)
        self._slew = 0.0  # phase correction still to apply to the grid (s)
        produced = {n for stage in self.stages for n in getattr(stage, "names", ())}
        self._early_names = produced & {"onset", "kick", "snare"} if self.early_triggers else set()
        self._early_trig = self._early_names & self._triggers  # kick, snare: sent early only
        self._early_fired: set[str] = set()
        self._onset_hold = -1.0  # stream time (s) of the attack an early onset reported, or -1
        self._onset_prev = 0.0  # the previous frame's onset level while bridging
        self._window_s = self.spec.window_seconds
        self._peak_names = (self._triggers | {"onset"}) & produced
        self._early_outputs = [o.send_early for o in self.outputs
                               if callable(getattr(o, "send_early", None))]
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
            if self._due is not None:  # wake for the paced tick, not later
                timeout = max(0.0, min(timeout, self._due - time.perf_counter()))
            block = self.source.read(timeout=timeout)
            if block is not None:
                self._process(block, period)
            elif self.source.finished:
                break
            if self._due is not None and time.perf_counter() >= self._due:
                self._tick(period)
            if block is None:
                self._gap(period)
        # a finite stream: flush the resampler so the file's last frames go out too
        if self.source.finished and self.resampler is not None and not stop.is_set():
            tail = self.resampler.flush()
            if tail.size:
                self._paced = False  # the tail at once, one tick per due frame
                self._frames(self.extractor.process(tail), period, None)
            if self._fresh:  # a paced frame still waiting for its tick
                self._tick(period)

    # ---- the work -------------------------------------------------------------------------------
    def _restart(self, rate: float) -> None:
        """A new stream (first block, or the device came back): forget all audio history."""
        if self._generation is not None:
            self.restarts += 1
            log.info("audio stream restarted at %g Hz: resetting the pipeline", rate)
        self.resampler = StreamResampler(rate, self.spec.sample_rate)
        self.extractor.reset()
        for stage in self.stages:
            stage.reset()
        self._next_tick = 0.0
        self._onset_hold = -1.0
        self._early_fired = set()
        if self._early_names:
            from bridge.signals.fast_triggers import FastTriggers

            self.fast = FastTriggers(rate)
            for (kind, name), args in self.fast_tuning.items():
                getattr(self.fast, kind)(name, *args)

    def tune_fast(self, kind: str, name: str, *args) -> None:
        """A live control for the fast triggers (``set_min_rise`` / ``set_band`` of trigger
        ``name``): applied now and again to every new stream's detector."""
        self.fast_tuning[(kind, name)] = args
        if self.fast is not None:
            getattr(self.fast, kind)(name, *args)

    def _process(self, block, period: float) -> None:
        if block.generation != self._generation:
            self._restart(block.rate)
            self._generation = block.generation
        self._last_audio = time.perf_counter()
        self._idled = False
        x = block.samples
        # the downmix as one C reduction: x.mean(axis=1) runs numpy's Python-level _mean (~12 %
        # of the engine's Python samples on a stereo device); the same sums, the same division
        mono = x[:, 0] if x.shape[1] == 1 else _add_reduce(x, axis=1) / x.shape[1]
        if self.fast is not None:  # on the device-rate samples: the resampler adds no delay
            t0 = self.timer_clock()
            events = self.fast.process(mono)
            self.timers["triggers"].add(self.timer_clock() - t0)  # per block, not per frame
            if events:
                self._send_early(events, block.arrival)
        clock, timer, process = self.timer_clock, self.timers["extract"], self.extractor.process
        t0 = clock()
        y = self.resampler.process(mono)
        if y.size:  # ~70% of 10 ms blocks give no samples
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
        paced = self._paced
        for i in range(n):
            # stream time at which frame i ends; one tick per due frame, in order, so a frame's
            # values (an onset peak) are never skipped when the output rate >= the frame rate
            t_stream = ((first + i) * hop + n_fft) / sr
            if not paced:
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
            if self._onset_hold >= 0.0 and "onset" in row:
                self._bridge_onset(row, t_stream)
            if paced:  # kept for the next tick of the wall-clock grid (see _tick)
                peaks = self._peaks
                for name in self._peak_names:
                    v = row.get(name)
                    if v is not None and v > peaks.get(name, 0.0):
                        peaks[name] = v
                self._latest = row
                self._fresh = True
                self._fresh_arrival = arrival
                continue
            sent = self._send(self._finish(row))
            if arrival is not None:
                self.latency.add(sent - arrival)
        if paced and self._fresh:
            now = time.perf_counter()
            self._last_frame_at = now
            if self._due is None:  # the grid starts (again) with the first frame: tick now
                self._due = now
                self._slew = 0.0
                self._waits = []
            else:
                self._waits.append(self._due - now)
        if arrival is not None and self.resampler is not None:
            waiting = ex.samples_seen - ((ex.frames_emitted - 1) * hop + n_fft)
            self.buffered.add((waiting + self.resampler.latency_samples) / sr)

    def _finish(self, row: dict) -> dict:
        """The row a tick sends: the fast triggers' kick/snare instead of the 60 Hz ones (1.0 on
        the first tick after an early event, which the output then leaves out as already sent;
        else 0), and the status page's trigger counts."""
        if self._early_trig:
            fired = self._early_fired
            for name in self._early_trig:
                row[name] = 1.0 if name in fired else 0.0
            fired.clear()
        self.values = row
        counts = self.fired
        for name in self._fired_names:  # the status page's flashing triggers (none: ~30 ns)
            if row.get(name):
                counts[name] += 1
        return row

    def _tick(self, period: float) -> None:
        """A paced tick, on the wall-clock grid: the newest frame's values (peak signals, triggers
        and onset, as their maximum over every frame since the last tick, so none is lost when
        two frames complete between ticks); no new frame while the audio flows: the newest values
        again with triggers at 0 (one packet per tick). The audio stopped (no frame for
        ``hold_after``): the grid stops; ``_gap`` holds or idles as before, and the next frame restarts
        the grid at once."""
        now = time.perf_counter()
        if self._fresh:
            row = dict(self._latest)
            row.update(self._peaks)
            self._peaks = {}
            self._fresh = False
            sent = self._send(self._finish(row))
            if self._fresh_arrival is not None:
                self.latency.add(sent - self._fresh_arrival)
        elif self._latest is not None and now - self._last_frame_at < self.hold_after:
            row = {k: 0.0 if k in self._triggers else v for k, v in self._latest.items()}
            if self._onset_hold >= 0.0 and row.get("onset", 1.0) < 1.0:
                row["onset"] = 1.0  # the newest frame predates an early onset: bridge it too
            self._send(self._finish(row))
            self.repeats += 1
        else:
            self._due = None
            return
        self._due = self._next_due(self._due, period, now)

    def _next_due(self, due: float, period: float, now: float) -> float:
        """The grid's next tick: one period on, locked to the audio's arrival. Once a second the
        phase is re-estimated from how long each new frame waited for its tick: the arrivals form a
        cluster within the period (two at once from soxr's chunks, or the device blocks' pattern);
        the tick should come just after the cluster's end (the largest circular gap's start) plus
        ``_MARGIN``. The correction is applied ``_SLEW`` at a time, so spacing stays within it;
        an engine late by more than a period (starved) skips to the next grid point in the future."""
        waits = self._waits
        if len(waits) >= max(8, int(self.output_rate)):  # about a second of frames
            a = np.sort(np.mod(-np.asarray(waits), period))  # arrival phase after a tick
            gaps = np.diff(np.concatenate((a, a[:1] + period)))
            k = int(np.argmax(gaps))
            if gaps[k] > period / 3:  # a clear cluster (else the arrivals cover the period)
                shift = (a[k] + _MARGIN) % period  # the tick, relative to the current grid
                self._slew = shift - period if shift > period / 2 else shift
            self._waits = []
        step = max(-_SLEW, min(_SLEW, self._slew))
        self._slew -= step
        due += period + step
        if due <= now:
            due += period * (1 + int((now - due) // period))
        return due

    def _bridge_onset(self, row: dict, t_stream: float) -> None:
        """After an early onset (attack at stream time ``_onset_hold``), the 60 Hz onset level
        of the same attack is bridged at 1.0: frames that end before the attack, and then those
        whose level still rises (the attack entering the 93 ms window, where the Hann taper first
        hides it), up to one window after it. The first frame that no longer rises, the level's
        peak, goes out as it is. So a receiver sees 1.0 early, then the level falling from its
        peak: one onset, not a second rise ~20-40 ms later."""
        level, previous = row["onset"], self._onset_prev
        self._onset_prev = level
        attack = self._onset_hold
        if t_stream < attack or (level > previous and t_stream < attack + self._window_s):
            if level < 1.0:
                row["onset"] = 1.0
        else:
            self._onset_hold = -1.0

    def _send_early(self, events, arrival: float) -> None:
        """Fast-trigger events (onset, kick, snare), each sent now to the outputs' routes that
        carry it (not at the next tick); kick/snare then ride the next tick as 1.0 (which the
        output leaves out as already sent); an onset makes the frames of audio from before the
        attack keep 1.0 (see _frames), so the continuous onset level never dips back in between."""
        values = {name: 1.0 for name, _ in events if name in self._early_names}
        if not values:
            return
        for name, at in events:
            if name == "onset":  # bridge the 60 Hz level to this attack (see _bridge_onset)
                if self._onset_hold < 0.0:
                    self._onset_prev = 0.0
                self._onset_hold = (at + 1) / self.fast.rate
        self._early_fired.update(values.keys() & self._early_trig)
        clock = self.timer_clock
        t0 = clock()
        for send in self._early_outputs:
            send(values)
        self.timers["send"].add(clock() - t0)
        self.early_sent += 1
        self.early_latency.add(time.perf_counter() - arrival)

    def _send(self, values: dict[str, float]) -> float:
        clock = self.timer_clock
        t0 = clock()
        for output in self.outputs:
            output.send(values)
        self.timers["send"].add(clock() - t0)
        sent = time.perf_counter()
        self.ticks += 1
        self._last_send = sent
        if self.first_packet_at is None:
            self.first_packet_at = sent
        return sent

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


def _trigger_names() -> set[str]:
    """Names the signal catalog declares as triggers (1.0 on an event frame), if it is there."""
    try:
        from bridge.signals.catalog import CATALOG
    except ImportError:
        return set()
    return {name for name in CATALOG.names() if CATALOG[name].is_trigger}
