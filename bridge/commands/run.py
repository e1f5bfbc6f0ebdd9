"""``vjbridge run``: the live bridge: an audio source through the engine to OSC, until stopped.

With no source option it records the default input device; a machine without its input says so in
one line and exits 1, waits for it or plays the demo groove, as ``--fallback`` says
(:mod:`bridge.sources.choose`), never a silent demo. SIGINT, SIGTERM and
Windows' CTRL_BREAK_EVENT (:mod:`bridge.runtime.shutdown`) stop it cleanly: the source stops,
outputs go to their idle values, and the measured latency is printed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time

HELP = "run the live bridge: audio device / file / demo -> models + signals -> mapping -> outputs"

log = logging.getLogger("bridge.run")
#: --midi-backend's choices (bridge.sinks.midi_backend.CHOICES, without importing the sinks)
MIDI_BACKENDS = ("auto", "alsa", "jack", "coremidi", "winmm")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--device", metavar="NAME|INDEX",
                        help="audio input: index or case-insensitive name substring (default: "
                             "the system's default input); a JACK device is recorded through "
                             "libjack when the jack extra is installed (survives JACK restarts)")
    source.add_argument("--file", metavar="PATH", help="play an audio/video file in real time")
    source.add_argument("--demo", action="store_true", help="the built-in synthetic groove")
    parser.add_argument("--fallback", choices=["none", "wait", "demo"], default="none",
                        help="when the input device is not there at start: none = say so and "
                             "exit 1 (default; a service restarts it), wait = say so and wait for "
                             "it by name, demo = play the demo groove (saying so)")
    parser.add_argument("--silence-after", type=float, default=30.0, metavar="S",
                        help="input below --silence-floor for S seconds is 'silent': a warning "
                             "event, a degraded /health, shown on the status page and line "
                             "(default 30)")
    parser.add_argument("--silence-floor", type=float, default=-60.0, metavar="DBFS",
                        help="RMS level in dBFS below which the input counts as silent "
                             "(default -60: below a quiet room through a microphone)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="--file/--demo playback speed (1 = real time, 0 = as fast as possible)")
    parser.add_argument("--mapping", default="default", metavar="NAME|PATH|none",
                        help="a shipped mapping's name (default: OSC to 127.0.0.1:7000; "
                             "touchdesigner-audioanalysis, lighting-desk-midi; `vjbridge check "
                             "NAME` shows where it is) or a mapping YAML file; 'none' sends every "
                             "signal raw as /vjbridge/<name> to --osc")
    parser.add_argument("--model", action="append", metavar="PATH",
                        help="ONNX model to run (repeatable; default: the shipped models)")
    parser.add_argument("--no-models", action="store_true", help="run no models")
    parser.add_argument("--osc", metavar="HOST:PORT", default=None,
                        help="send every OSC output of the mapping to HOST:PORT instead")
    parser.add_argument("--midi", metavar="PORT", default=None,
                        help="open this MIDI port for every MIDI output of the mapping")
    parser.add_argument("--midi-backend", choices=MIDI_BACKENDS, default=None,
                        help="MIDI system for every MIDI output: auto = the first that answers "
                             "(Linux: ALSA, then JACK; macOS: CoreMIDI; Windows: Windows MM); "
                             "default: each target's `backend` (auto)")
    parser.add_argument("--osc-prefix", default="/vjbridge", help="OSC prefix with --mapping none")
    parser.add_argument("--control", metavar="[HOST:]PORT", default=None,
                        help="open an OSC control port for live tuning (TouchDesigner); closed "
                             "unless given; HOST defaults to 127.0.0.1 (0.0.0.0: reachable from "
                             "the network). " + _controls_help())
    parser.add_argument("--status-port", type=_port, default=None, metavar="PORT",
                        help="serve a live status page and /health (JSON) over HTTP on this port "
                             "(e.g. 7080, where `vjbridge status` looks); off unless given")
    parser.add_argument("--status-host", default=None, metavar="HOST",
                        help="address the status page listens on (default 127.0.0.1: this "
                             "machine only; 0.0.0.0: reachable from the network)")
    parser.add_argument("--output-rate", type=float, default=None,
                        help="output ticks per second (default: the mapping's rate, 60)")
    parser.add_argument("--on-loss", choices=["hold", "idle"], default="hold",
                        help="when the device disappears: hold the last values (default) or idle")
    parser.add_argument("--block-ms", type=float, default=5.0,
                        help="audio block length in ms (default 5: sound -> onset packet ~4 ms "
                             "sooner than 10 ms blocks, continuous signals ~5 ms sooner, for ~3 %% "
                             "more of one core)")
    parser.add_argument("--input-latency", default="auto", metavar="S|low|high|auto",
                        help="driver input buffer: seconds, or PortAudio's 'low'/'high' (default "
                             "auto: low, a few ms sooner, and high from the moment the driver "
                             "overflows at low, which the log and the status page say)")
    parser.add_argument("--rate", default=None, metavar="HZ",
                        help="open the audio device at this rate (default: its own rate; 22050 "
                             "is read without resampling)")
    parser.add_argument("--pacing", choices=["even", "asap"], default="even",
                        help="even (default): tick packets evenly spaced on the audio clock, "
                             "about half a device block later, events sent at once; asap: each "
                             "frame's packet the moment it is complete (spacing follows the "
                             "device blocks)")
    parser.add_argument("--triggers", choices=["fast", "frame"], default="fast",
                        help="fast (default): onset, kick and snare decided on a 5 ms hop of the "
                             "device's samples and sent the moment the block holding them "
                             "arrives (the engine wakes on every block: ~3 %% more of one core); "
                             "frame: from the 60 Hz frames, at their tick (~15-30 ms later)")
    parser.add_argument("--link", action="store_true",
                        help="join the Ableton Link session on this network: while it has "
                             "another peer (Live, Resolume, TouchDesigner's Link CHOP, ...), bpm, "
                             "beat and beatphase follow it instead of the audio tempo tracker")
    parser.add_argument("--genre", metavar="NAME", default=None,
                        help="the music's genre (techno, jazz, hip-hop, ...: `vjbridge check "
                             "--schema` lists the 23): sends /vjbridge/genre and /vjbridge/style "
                             "(its style description, for a diffusion visualiser's prompt) to the "
                             "OSC targets on start, at each reload and once a second; overrides "
                             "the mapping's genre: key")
    parser.add_argument("--morph-segment", default=None, metavar="LEN",
                        help="length of one morph ramp (the signal morph, when a mapping routes "
                             "it): beats of the tracked tempo (4, 4b) or seconds (2s); default 4 "
                             "beats")
    parser.add_argument("--no-realtime", dest="realtime", action="store_false",
                        help="keep the engine thread at normal priority (default: SCHED_FIFO as "
                             "audio servers use, when the system grants it; else nice -10)")
    parser.add_argument("--duration", type=float, default=None, metavar="S",
                        help="stop after S seconds")
    parser.add_argument("--status-interval", type=float, default=2.0, metavar="S",
                        help="seconds between plain status lines when not on a terminal")
    parser.add_argument("--log-level", default=argparse.SUPPRESS,
                        choices=["debug", "info", "warning", "error"], help="logging verbosity")
    parser.add_argument("--config", metavar="FILE|none", default=None,
                        help="run-config YAML (device, mapping, models, outputs, ...; options given "
                             "here win); default: the user's config dir's vjbridge/config.yaml, "
                             "else /etc/vjbridge/config.yaml, if present; none: no file")


def _controls_help() -> str:
    from bridge.runtime.controls import help_text

    return help_text().replace("%", "%%")


def _control_target(args):
    """``--control``'s (host, port) for ``/vjbridge/_info`` (ConfigError when malformed), or None."""
    if args.control is None:
        return None
    from bridge.runtime.control import parse_control_target

    return parse_control_target(args.control)


def _open_control(args, engine):
    """The control port of ``--control`` bound and attached to ``engine`` (SinkError/ConfigError:
    one line, exit 1, before any audio runs), or None."""
    if args.control is None:
        return None
    from bridge.runtime.control import ControlPort
    from bridge.runtime.control_targets import ControlTargets

    control = ControlPort.open(args.control)
    control.attach(ControlTargets(engine, rate_fixed=args.output_rate is not None))
    engine.control = control
    return control.start()


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port in 1..65535")
    return int(text)


def _open_status(args, engine):
    """The status page of ``--status-port`` bound (SinkError: one line, exit 1, before any audio
    runs) and serving ``engine.snapshot``, or None."""
    if args.status_port is None:
        if args.status_host is not None:
            from bridge.errors import ConfigError

            raise ConfigError("--status-host needs --status-port PORT (the page is off without it)")
        return None
    from bridge.runtime.web import StatusServer

    if args.status_host is not None and not args.status_host.strip():
        from bridge.errors import ConfigError

        raise ConfigError("--status-host: give an address, e.g. 127.0.0.1 (this machine only)")
    return StatusServer.open(engine, args.status_host or "127.0.0.1", args.status_port).start()


def _latency(text: str):
    from bridge.errors import ConfigError
    from bridge.sources.device import LATENCY_WORDS

    if text in LATENCY_WORDS:
        return text
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 2:
        raise ConfigError(f"--input-latency: {text!r} is not low, high, auto or seconds in (0, 2]")
    return value


def _choose_source(args):
    """The source the options ask for; with no input device, what ``--fallback`` says
    (bridge.sources.choose: one line, then exit 1 / wait / the demo)."""
    from bridge.runtime.engine import LIVE_SPEC
    from bridge.sources import DemoSource, FileSource
    from bridge.sources.choose import choose_device

    block = args.block_ms / 1000.0
    if args.file:
        return FileSource(args.file, speed=args.speed, block_seconds=block)
    if args.demo:
        return DemoSource(LIVE_SPEC.sample_rate, speed=args.speed, block_seconds=block)
    return choose_device(args.device, fallback=args.fallback, block_seconds=block,
                         latency=_latency(args.input_latency), rate=args.rate,
                         demo=lambda: DemoSource(LIVE_SPEC.sample_rate, block_seconds=block))


def run(args: argparse.Namespace) -> int:
    from bridge.runtime.runconfig import use_config

    config = use_config(args, add_arguments)  # RunConfigError: every problem, exit 1
    if config is not None:
        print(f"vjbridge: run config {config}", file=sys.stderr, flush=True)
    if getattr(args, "log_level", None):
        logging.getLogger().setLevel(args.log_level.upper())
    from bridge.commands.run_options import check_run_options

    check_run_options(args)  # one line naming a nonsense option, before anything opens
    from bridge.runtime.engine import LIVE_SPEC, Engine
    from bridge.runtime.pipeline import build
    from bridge.sources.rate import describe_resampling
    from bridge.runtime.shutdown import arm_exit_deadline, join_engine, on_stop_signals
    from bridge.runtime.status import StatusLine

    mapping = None if args.mapping.lower() == "none" else args.mapping
    models = [] if args.no_models else args.model
    stages, outputs, rate = build(LIVE_SPEC, mapping=mapping, models=models, osc=args.osc,
                                  midi=args.midi, midi_backend=args.midi_backend,
                                  osc_prefix=args.osc_prefix,
                                  control=_control_target(args), link=args.link,
                                  genre=args.genre, segment=args.morph_segment)
    rate = args.output_rate or rate
    source = _choose_source(args)
    engine = Engine(source, stages, outputs, output_rate=rate, on_loss=args.on_loss,
                    realtime=args.realtime, pace=None if args.pacing == "even" else False,
                    fast_triggers=args.triggers == "fast")
    from bridge.runtime.input_watch import InputWatch

    engine.input_watch = InputWatch(silence_after=args.silence_after,
                                    floor_db=args.silence_floor, events=engine.events)
    from bridge.runtime.sdnotify import Notifier

    engine.notify = Notifier.from_env()  # under systemd: READY, watchdog pings from the engine
    page = _open_status(args, engine)
    engine.count_triggers = page is not None  # the page flashes them
    try:
        control = _open_control(args, engine)
    except BaseException:
        if page is not None:
            page.close()
        raise
    stop = threading.Event()
    failure: list[BaseException] = []

    def work():
        try:
            engine.run(stop, duration=args.duration)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, re-raised there
            failure.append(exc)

    status = StatusLine(engine, interval=args.status_interval)
    # the readers' snapshot (~60-100 µs each, 0.3-0.4 % of a core at 5 a second): five a second
    # for the status page's meters and a terminal's live line, else as often as the plain status
    # line is written, at most 1 s apart
    if page is None and not status.interactive:
        engine.snapshot_interval = min(1.0, max(0.2, args.status_interval))
    started = time.perf_counter()
    # a daemon: a thread stuck in a driver must not keep the process alive (join_engine)
    thread = threading.Thread(target=work, name="engine", daemon=True)
    def on_stop():
        if not stop.is_set():  # the first stop signal starts the 2 s clock (arm_exit_deadline)
            arm_exit_deadline()
        stop.set()

    with on_stop_signals(on_stop):  # also while joining: a second Ctrl-C only stops again
        try:
            with status:
                thread.start()
                announced = False
                while thread.is_alive():
                    thread.join(timeout=0.25)
                    if not announced and source.state != "starting":
                        announced = True
                        sent_to = ", ".join(o.describe() for o in outputs)
                        print(f"vjbridge: {source.describe()} -> {LIVE_SPEC.frame_rate:.2f} "
                              f"frames/s -> {sent_to} at {rate:g} Hz; engine priority "
                              f"{engine.priority}; {describe_resampling(engine)}; Ctrl-C to stop",
                              file=sys.stderr, flush=True)
                        if control is not None:
                            print(f"vjbridge: {control.describe()}", file=sys.stderr, flush=True)
                        if page is not None:
                            print(f"vjbridge: {page.describe()}", file=sys.stderr, flush=True)
                    if source.state != "starting":
                        status.update()
        finally:
            stop.set()
            ended = join_engine(thread, outputs)  # never an unbounded wait
            if control is not None:
                control.close()
            if page is not None:
                page.close()
            if not ended:
                sys.stderr.flush()
                os._exit(1)  # interpreter exit could wait on the stuck thread's driver
    if failure:
        raise failure[0]
    if source.kind == "file" and source.finished and engine.frames == 0:
        from bridge.errors import MediaError  # an empty file "played" and sent nothing

        raise MediaError(f"{args.file}: no audio decoded (empty or shorter than one 93 ms "
                         "analysis frame): nothing was sent")
    print(status.summary(time.perf_counter() - started), file=sys.stderr, flush=True)
    return 0
