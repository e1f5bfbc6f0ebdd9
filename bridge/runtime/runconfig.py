"""The run-config file: how an unattended install runs, in one YAML, validated like a mapping.

Why a file: a service's command line is buried in a unit file; a gallery technician edits one YAML
(``vjbridge check --config FILE`` first) and restarts the service. It holds what ``vjbridge run``'s
options hold - device, demo fallback, mapping, models, output overrides, on_loss, rates, ports - and
is declared once as a :class:`~bridge.mapping.schema.Section`, checked by the mapping validator's
walker, so every problem comes with its key path and a did-you-mean. Options given on the command
line win over the file.

Where it is looked for (``vjbridge run`` without ``--config``), first found wins:
:func:`user_config_path` (``$XDG_CONFIG_HOME/vjbridge/config.yaml``, ``~/.config/...``; Windows
``%APPDATA%\\vjbridge\\config.yaml``; macOS ``~/Library/Application Support/vjbridge/config.yaml``),
then :data:`SYSTEM_CONFIG` (``/etc/vjbridge/config.yaml``). ``--config none`` uses no file.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError, RunConfigError
from bridge.mapping.schema import Option, Section

#: The system-wide run config (a system service's default).
SYSTEM_CONFIG = Path("/etc/vjbridge/config.yaml")
#: Bigger than any real run config by far; a larger file is refused before it is parsed.
MAX_BYTES = 256 * 1024

OUTPUTS = Section("outputs", "Overrides of the mapping's outputs.", (
    Option("osc", "str", None, "send every OSC output of the mapping to this HOST:PORT instead "
           "(run --osc)", nullable=True),
    Option("midi", "str", None, "open this MIDI port for every MIDI output of the mapping "
           "(run --midi)", nullable=True),
    Option("midi_backend", "choice", None, "MIDI system for every MIDI output: auto, alsa, jack, "
           "coremidi or winmm; null = each target's `backend` (run --midi-backend)",
           choices=("auto", "alsa", "jack", "coremidi", "winmm"), nullable=True),
))

RUN_CONFIG = Section("run config", "A run-config file (vjbridge run --config FILE): how the daemon "
                     "runs; command-line options override it.", (
    Option("version", "int", 1, "run-config format version", lo=1, hi=1),
    Option("device", "str", None, "audio input: index or case-insensitive name substring; null = "
           "the system's default input (run --device)", nullable=True),
    Option("fallback", "choice", "none", "with no input device at start: none = say so and exit 1 "
           "(a service restarts; a gallery must not show a fake show), wait = say so and wait for "
           "it by name, demo = play the built-in demo groove (run --fallback)",
           choices=("none", "wait", "demo")),
    Option("demo", "bool", False, "play the built-in demo groove instead of a device (run --demo)"),
    Option("mapping", "str", "default", "a shipped mapping's name, a mapping YAML (relative to this "
           "file) or none (run --mapping)"),
    Option("models", "str", "default", "default (the shipped models), none, or a list of ONNX "
           "files relative to this file (run --model / --no-models)"),
    Option("outputs", "section", None, "output overrides", nullable=True, section=OUTPUTS),
    Option("on_loss", "choice", "hold", "when the device disappears: hold the last values or idle",
           choices=("hold", "idle")),
    Option("output_rate", "number", None, "output ticks per second; null = the mapping's rate "
           "(run --output-rate)", lo=1, hi=1000, nullable=True),
    Option("block_ms", "number", 5.0, "audio block length in ms (run --block-ms)", lo=1, hi=200),
    Option("input_latency", "str", "auto", "driver input buffer: seconds, low, high or auto "
           "(low, then high once the driver overflows; run --input-latency)"),
    Option("silence_after", "number", 30.0, "seconds of input below silence_floor before the "
           "input is 'silent' (an event, a degraded /health) (run --silence-after)",
           lo=0.1, hi=86400),
    Option("silence_floor", "number", -60.0, "dBFS RMS below which the input counts as silent "
           "(run --silence-floor)", lo=-200, hi=0),
    Option("realtime", "bool", True, "ask for SCHED_FIFO for the engine thread (run --no-realtime)"),
    Option("pacing", "choice", "even", "tick packets evenly spaced on the audio clock (even) or "
           "each the moment its frame is complete (asap) (run --pacing)",
           choices=("even", "asap")),
    Option("triggers", "choice", "fast", "onset/kick/snare on a 5 ms hop, sent as the block "
           "arrives (fast), or from the 60 Hz frames at their tick (frame) (run --triggers)",
           choices=("fast", "frame")),
    Option("link", "bool", False, "join the Ableton Link session: while it has another peer, "
           "bpm, beat and beatphase follow it instead of the audio tempo tracker (run --link)"),
    Option("genre", "str", None, "the music's genre, announced as /vjbridge/genre and "
           "/vjbridge/style (run --genre); null = the mapping's genre: key", nullable=True),
    Option("morph_segment", "str", None, "length of one morph ramp: beats (4, 4b) or seconds "
           "(2s); null = 4 beats (run --morph-segment)", nullable=True),
    Option("control", "str", None, "open the OSC control port [HOST:]PORT (run --control)",
           nullable=True),
    Option("status_port", "int", None, "serve the status page and /health on 127.0.0.1:PORT "
           "(run --status-port)", lo=1, hi=65535, nullable=True),
    Option("status_interval", "number", 2.0, "seconds between status lines in the log",
           lo=0.1, hi=3600),
    Option("log_level", "choice", "warning", "logging verbosity",
           choices=("debug", "info", "warning", "error")),
))

#: run-config key -> the ``vjbridge run`` option's dest it sets (outputs.* are flattened).
_DESTS = {"device": "device", "fallback": "fallback", "demo": "demo", "mapping": "mapping",
          "on_loss": "on_loss", "output_rate": "output_rate", "block_ms": "block_ms",
          "input_latency": "input_latency", "realtime": "realtime", "pacing": "pacing",
          "triggers": "triggers", "link": "link", "genre": "genre",
          "morph_segment": "morph_segment",
          "silence_after": "silence_after", "silence_floor": "silence_floor", "control": "control",
          "status_port": "status_port", "status_interval": "status_interval",
          "log_level": "log_level", "outputs.osc": "osc", "outputs.midi": "midi",
          "outputs.midi_backend": "midi_backend"}


def user_config_path(environ=None, platform: str | None = None, home: Path | None = None) -> Path:
    """The user's run config, as platformdirs' ``user_config_dir`` places it (standard library)."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    home = Path.home() if home is None else home
    if platform.startswith("win"):
        base = Path(environ["APPDATA"]) if environ.get("APPDATA") else home / "AppData" / "Roaming"
    elif platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        xdg = environ.get("XDG_CONFIG_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else home / ".config"  # the spec: relative = unset
    return base / "vjbridge" / "config.yaml"


def find_config(environ=None) -> Path | None:
    """The run config ``vjbridge run`` uses without ``--config``: the user's, else /etc's, else None."""
    for path in (user_config_path(environ), SYSTEM_CONFIG):
        if path.is_file():
            return path
    return None


def _read(path: Path) -> Any:
    """Parse the YAML at ``path`` (size-limited, no aliases); RunConfigError with one problem."""
    import yaml

    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise RunConfigError([f"the file is {size:,} bytes; a run config is at most "
                                  f"{MAX_BYTES:,} (is this the right file?)"], source)
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise RunConfigError([f"cannot read the file: {exc.strerror or exc}"], source) from None
    except UnicodeDecodeError:
        raise RunConfigError(["not a UTF-8 text file (a binary file?): a run config is YAML "
                              "text"], source) from None
    try:
        for token in yaml.scan(text):  # linear; refuses alias bombs before anything is built
            if isinstance(token, yaml.AliasToken):
                line = token.start_mark.line + 1
                raise RunConfigError([f"line {line}: aliases (*{token.value}) are not allowed "
                                      "in a run config; write the value out"], source)
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        from bridge.mapping.validate import yaml_problem

        raise RunConfigError([yaml_problem(exc)], source) from None
    except RecursionError:
        raise RunConfigError(["nested too deeply to be a run config"], source) from None


def _relative(value: str, base: Path) -> str:
    """A path written in the file, relative to the file's folder (names like 'default' stay)."""
    value = os.path.expanduser(value)
    looks_like_path = os.sep in value or "/" in value or value.endswith((".yaml", ".yml", ".onnx"))
    if not looks_like_path or os.path.isabs(value):
        return value
    return str((base / value).resolve())


def validate_config(raw: Any, source: str = "run config", base: Path | None = None) -> dict:
    """A parsed run config checked against :data:`RUN_CONFIG`: every default filled in, paths made
    absolute against ``base``; :class:`RunConfigError` with every problem otherwise."""
    from bridge.mapping.validate import _check_section

    problems: list[str] = []
    if isinstance(raw, dict):
        raw = dict(raw)
        # numbers a person writes for text options: an index, a port, a latency in seconds
        for key in ("device", "control", "input_latency", "morph_segment"):
            if type(raw.get(key)) in (int, float):
                raw[key] = str(raw[key])
        models = raw.pop("models", "default")  # a name or a list of files: checked below
        for key, value in list(raw.items()):  # no option takes a number this big (nor can float)
            if type(value) is int and abs(value) > 10 ** 15:
                problems.append(f"{key}: a number of {len(str(abs(value)))} digits is out of range")
                del raw[key]
    else:
        models = "default"
    cfg = _check_section(RUN_CONFIG, raw, "", problems, None)
    if cfg is None:
        raise RunConfigError(problems, source)
    cfg["outputs"] = cfg["outputs"] or {o.name: o.default for o in OUTPUTS.options}
    cfg["models"] = _check_models(models, problems)
    _check_targets(cfg, problems)
    if problems:
        raise RunConfigError(problems, source)
    base = base if base is not None else Path.cwd()
    if cfg["mapping"] and cfg["mapping"].lower() != "none":
        cfg["mapping"] = _relative(cfg["mapping"], base)
    if isinstance(cfg["models"], list):
        cfg["models"] = [_relative(m, base) for m in cfg["models"]]
    return cfg


def _check_models(models: Any, problems: list[str]) -> str | list[str]:
    if models is None or models == "default":
        return "default"
    if models == "none":
        return "none"
    if isinstance(models, list) and models and all(isinstance(m, str) and m.strip()
                                                   for m in models):
        return list(models)
    if isinstance(models, str):
        from bridge.mapping.validate import _suggest

        problems.append(f"models: {models!r} is not default, none or a list of ONNX files"
                        + _suggest(models, ["default", "none"]))
    else:
        problems.append("models: expected default, none or a list of ONNX file paths, got "
                        f"{type(models).__name__}")
    return "default"


def _check_targets(cfg: dict, problems: list[str]) -> None:
    """The address-like strings, with the parsers ``vjbridge run`` itself uses."""
    from bridge.commands.run import _latency
    from bridge.runtime.control import parse_control_target
    from bridge.signals.energy import parse_segment
    from bridge.sinks.osc import parse_osc_target

    checks = [("outputs.osc", cfg["outputs"].get("osc"), parse_osc_target),
              ("control", cfg.get("control"), parse_control_target),
              ("input_latency", cfg.get("input_latency"), _latency),
              ("morph_segment", cfg.get("morph_segment"), parse_segment)]
    for key, value, parse in checks:
        if isinstance(value, str):
            try:
                parse(value)
            except ConfigError as exc:
                problems.append(f"{key}: {str(exc).split(': ', 1)[-1]}")
    if cfg.get("demo") and cfg.get("device") is not None:
        problems.append("demo: true and a device are both given; keep one")
    if isinstance(cfg.get("genre"), str):
        from bridge.genres import GenreError, canonical

        try:
            canonical(cfg["genre"])
        except GenreError as exc:
            problems.append(f"genre: {exc}")


def load_config(path: str | os.PathLike) -> dict:
    """Read and validate the run config at ``path``."""
    path = Path(path).expanduser()
    return validate_config(_read(path), source=str(path), base=path.resolve().parent)


def given_options(add_arguments, argv: list[str]) -> set[str]:
    """The dests of the ``vjbridge run`` options written in ``argv`` (the words after ``run``):
    those win over the file. Parsed again with every default suppressed, so an option given with
    its default value still counts as given."""
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    add_arguments(parser)
    for action in parser._actions:  # argparse has no public way to suppress every default
        action.default = argparse.SUPPRESS
        action.required = False
    try:
        found, _ = parser.parse_known_args(argv)
    except (argparse.ArgumentError, SystemExit):
        return set()
    return set(vars(found))


def apply_config(args: argparse.Namespace, cfg: dict, given: set[str]) -> None:
    """Set ``args`` from ``cfg`` wherever the command line did not give the option."""
    flat = dict(cfg) | {f"outputs.{k}": v for k, v in cfg["outputs"].items()}
    sources = {"device", "file", "demo"}
    source_given = bool(sources & given)
    for key, dest in _DESTS.items():
        if dest in given or (dest in sources and source_given):
            continue
        setattr(args, dest, flat[key])
    if not ({"model", "no_models"} & given):
        args.no_models = cfg["models"] == "none"
        args.model = cfg["models"] if isinstance(cfg["models"], list) else None


def starter_text() -> str:
    """A run config with every key commented out at its default: what ``service install`` writes
    when there is none, generated from :data:`RUN_CONFIG`."""
    from bridge.mapping.schema import _fmt_default

    lines = ["# vjbridge run config (vjbridge check --config FILE validates it).",
             "# Every key is optional; shown with its default. Command-line options override it.",
             "version: 1"]
    for opt in RUN_CONFIG.options:
        if opt.name == "version":
            continue
        lines.append(f"# {opt.description}")
        if opt.kind == "section":
            lines.append(f"# {opt.name}:")
            for sub in opt.section.options:
                lines.append(f"#   {sub.name}: {_fmt_default(sub)}    # {sub.description}")
        else:
            lines.append(f"# {opt.name}: {_fmt_default(opt)}")
    return "\n".join(lines) + "\n"


def summary(cfg: dict, source: str) -> str:
    """What ``vjbridge check --config`` prints for a valid file."""
    shown = {k: v for k, v in cfg.items() if k != "outputs"} | {
        f"outputs.{k}": v for k, v in cfg["outputs"].items()}
    width = max(map(len, shown))
    return "\n".join([f"{source}: run config"] + [f"  {k:<{width}}  {v}" for k, v in shown.items()])


def use_config(args: argparse.Namespace, add_arguments) -> Path | None:
    """``vjbridge run``'s run config: ``--config FILE``, else the first of the usual places, unless
    ``--config none``; its values set every option the command line did not give. Returns the file
    used (None for none)."""
    text = getattr(args, "config", None)
    if text is not None and text.lower() == "none":
        return None
    path = Path(text).expanduser() if text is not None else find_config()
    if path is None:
        return None
    cfg = load_config(path)
    argv = list(getattr(args, "_argv", None) or sys.argv[1:])
    cut = argv.index(args.command) + 1 if getattr(args, "command", None) in argv else 0
    given = given_options(add_arguments, argv[cut:])
    if any(a.startswith("--log-level") for a in argv[:cut]):  # vjbridge --log-level X run ...
        given.add("log_level")
    apply_config(args, cfg, given)
    return path
