"""Adapters from the signal, model and mapping packages to the engine's Stage/Output protocols, and
:func:`build` which assembles the default pipeline for ``vjbridge run`` and the benchmark.

Why adapters: :mod:`bridge.signals`, :mod:`bridge.models` and :mod:`bridge.mapping` each expose their
natural API (arrays of named columns, an ONNX runner, a router plus sinks); the engine wants
``process(frames) -> {name: column}`` and ``send(values)``. A few lines here keep both sides simple.

Model outputs are declared in the pipeline's own copy of the signal catalog when their stage starts,
which is before the mapping is opened (stages start before outputs), so a mapping can route
``motion`` exactly when a loaded model produces it. A copy, not the process-wide ``CATALOG``: two
pipelines in one process (tests, the benchmark, a future multi-engine host) never see each other's
models.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from bridge.errors import ConfigError
# DEFAULT_MODEL, shipped_models: also imported from here (tests, the benchmark)
from bridge.resources import DEFAULT_MODEL, models_dir, resolve_mapping, shipped_models  # noqa
from bridge.runtime.stages import Columns

log = logging.getLogger(__name__)



def parse_hostport(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``:PORT`` / ``PORT`` (host 127.0.0.1) -> (host, port), as the ``--osc``
    override: a bad target raises :class:`MappingError` naming the option."""
    from bridge.errors import ConfigError, MappingError
    from bridge.sinks.osc import parse_osc_target

    try:
        return parse_osc_target(text)
    except ConfigError as exc:
        raise MappingError([str(exc)], "--osc") from None


def cli_overrides(*, osc: str | None = None, midi: str | None = None,
                  midi_backend: str | None = None) -> dict:
    """The command line's output overrides as :class:`~bridge.mapping.Outputs` takes them
    (output kind -> value): ``--osc HOST:PORT``, ``--midi NAME`` and ``--midi-backend NAME``
    (``{"port": ..., "backend": ...}`` when a backend is given)."""
    overrides: dict = {}
    if osc:
        overrides["osc"] = parse_hostport(osc)
    if midi_backend:
        overrides["midi"] = {"port": midi or None, "backend": midi_backend}
    elif midi:
        overrides["midi"] = midi
    return overrides

class SignalsStage:
    """:class:`bridge.signals.ClassicSignals`: low/mid/high, rms, onset, kick, snare, bpm, ..."""

    name = "signals"

    def __init__(self, spec, *, options: dict | None = None):
        from bridge.signals import ClassicSignals

        self.impl = ClassicSignals(spec, options=options)
        self.names = self.impl.names
        self._index = {name: i for i, name in enumerate(self.names)}
        self.last: Columns | None = None  # the newest result (the musical, energy stages read bpm)

    def start(self) -> None:
        pass

    def process(self, frames: np.ndarray) -> Columns:
        self.last = Columns(self.names, self.impl.process(frames), self._index)
        return self.last

    def reset(self) -> None:
        self.impl.reset()

    def close(self) -> None:
        pass


class ModelStage:
    """Every model in ``paths`` through a :class:`bridge.models.runner.ModelRunner` at the live
    spec (one intra-op thread each); outputs by name. Loaded, checked and declared in start()."""

    name = "models"

    def __init__(self, paths, spec, *, skip_duplicates: bool = False, catalog=None):
        from bridge.signals.catalog import CATALOG

        self.paths = [os.fspath(p) for p in paths]
        self.spec = spec
        self.catalog = catalog if catalog is not None else CATALOG.copy()  # declared into on start
        self.skip_duplicates = skip_duplicates  # shipped models: the first to produce a name wins
        self.runners: list = []
        self.names: tuple[str, ...] = ()
        self.colours: list[str] = []  # colours the models declare (their channels are in names)

    def start(self) -> None:
        from bridge.models.onnx_model import OnnxModel
        from bridge.models.runner import ModelRunner

        self.catalog.remove_model_outputs()  # a restart declares them again
        self.colours = []
        names: list[str] = []
        owner: dict[str, str] = {}  # output or colour name -> the file that produces it
        for path in self.paths:
            model = OnnxModel.load(path)  # ModelError: one line naming the file
            runner = ModelRunner(model, self.spec)  # SpecMismatchError when not servable
            mine = list(model.names) + [c.name for c in model.colours]
            taken = [name for name in mine if name in owner]
            if taken and self.skip_duplicates:
                log.info("not loading %s: %s already produced by %s, loaded first (choose with "
                         "--model)", path, ", ".join(taken), owner[taken[0]])
                continue
            if taken:  # two models, one name: reported, never merged (which would win?)
                raise ConfigError(f"two models produce an output named {taken[0]!r}: "
                                  f"{owner[taken[0]]} and {path}; load only one of them "
                                  "(--model) or rename the output")
            for out in model.outputs:
                self.catalog.declare_model_output(out.name, range=(out.min, out.max),
                                                  description=out.description,
                                                  model=os.path.basename(path))
                names.append(out.name)
            for colour in model.colours:
                self.catalog.declare_model_colour(colour.name, colour.channels,
                                                  model=os.path.basename(path))
                self.colours.append(colour.name)
            owner.update(dict.fromkeys(mine, path))
            self.runners.append(runner)
            log.info("model %s", model.describe())
        self.names = tuple(names)
        self._index = {name: i for i, name in enumerate(self.names)}

    def process(self, frames: np.ndarray) -> Columns | dict[str, np.ndarray]:
        if len(self.runners) == 1:  # the usual case: the columns of the one model's predictions
            runner = self.runners[0]
            return Columns(runner.names, runner.process(frames), self._index)
        out = {}
        for runner in self.runners:
            pred = runner.process(frames)
            for j, name in enumerate(runner.names):
                out[name] = pred[:, j]
        return out

    def reset(self) -> None:
        for runner in self.runners:
            runner.reset()

    def close(self) -> None:
        self.runners_loaded, self.runners = self.runners, []  # what ran, for reports


def _signal_table(catalog) -> dict:
    """The signals a mapping may route: ``catalog`` (classic + declared model outputs and colours)
    plus the shipped model outputs (motion, weight, r, g, b) and colour (``colour``) even when no
    loaded model produces them: such a route stays silent (MappingOutput warns once) instead of
    refusing to start the show."""
    from bridge.mapping.validate import add_placeholders, signal_kinds

    return add_placeholders(signal_kinds(catalog))


class MappingOutput:
    """A mapping (:class:`bridge.mapping.Outputs`: router + its sinks) as the engine's output.

    The file is validated at construction (fail fast, before any device opens); the sinks open in
    ``start()``. An edited file is read, validated and its new sinks opened by a
    :class:`bridge.runtime.reload.MappingWatcher` thread; ``poll()`` (once a second, on the engine
    thread) only makes a finished switch live. A broken edit is reported (``events``: the engine's
    record, set by the engine) and the last good mapping stays live."""

    def __init__(self, path, *, osc: str | None = None, midi: str | None = None,
                 midi_backend: str | None = None, produced=None, catalog=None,
                 control: tuple[str, int] | None = None, genre: str | None = None):
        from bridge.mapping import load_mapping
        from bridge.signals.catalog import CATALOG

        self.catalog = catalog if catalog is not None else CATALOG
        self.path = os.fspath(path)
        self.osc = osc
        self.midi = midi
        self.control = control  # the control port, announced in /vjbridge/_info
        self.produced = produced  # () -> names the stages produce (known once they started)
        self.overrides = cli_overrides(osc=osc, midi=midi, midi_backend=midi_backend)
        # MappingError naming every bad key or the limit it is over (bridge.mapping.limits)
        mapping = load_mapping(self.path, signals=_signal_table(self.catalog),
                               overrides=self.overrides)
        self.rate = float(mapping.rate)
        self.signals_used = {r["signal"] for r in mapping.routes}
        self.genre_override = genre  # run --genre (canonical), else the mapping's `genre:`
        self._genre_at_load = mapping.genre
        self.outputs = None
        self.watcher = None
        self.info = InfoAnnouncer(self)
        self.events = None  # the engine's event record (bridge.runtime.events), set by the engine
        self.last_reload = None  # the newest reload's Reload(time, ok, message), for the snapshot
        # the run's OptionalStages (set by build): a changed mapping that routes a signal of a
        # stage this run lacks gets it built; stage_sink, the engine's add_stages (set by the
        # engine), takes the built stages between frames
        self.optional_stages = None
        self.stage_sink = None

    def start(self) -> None:
        from bridge.mapping import Outputs

        self.outputs = Outputs(self.path, overrides=self.overrides,
                               signals=_signal_table(self.catalog))
        if self.produced is not None:
            silent = sorted(self.outputs.router.signals_used - set(self.produced()))
            if silent:
                log.warning("mapping %s routes %s, which no loaded model produces: those routes "
                            "stay silent", self.path, ", ".join(silent))
        from bridge.runtime.reload import MappingWatcher

        self.watcher = MappingWatcher(self.outputs, report=self._report,
                                      prepare=self.prepare_stages).start()
        self.info.announce()  # before the first data tick

    def prepare_stages(self, prepared) -> None:
        """Slow side of a mapping change (the watcher's or the control thread): build, start
        and warm up the optional stages ``prepared.mapping`` routes and this run lacks
        (:mod:`bridge.runtime.optional_stages`); they go live with the switch."""
        if self.optional_stages is None or self.stage_sink is None:
            return
        used = {r["signal"] for r in prepared.mapping.routes}
        try:
            prepared.stages = self.optional_stages.build(used)
        except Exception as exc:  # noqa: BLE001 - the mapping still switches; say what is dark
            missing = ", ".join(self.optional_stages.missing(used))
            log.error("mapping %s: the %s stage could not start (%s): its routes stay silent",
                      prepared.path, missing, exc)

    def adopt_stages(self, prepared) -> str:
        """Engine thread, after ``prepared`` went live: its new stages join the run. Returns
        what the report line adds (empty when nothing was added)."""
        from bridge.runtime.optional_stages import close_all, describe

        built, prepared.stages = prepared.stages, []
        have = {s.name for s in self.optional_stages.stages} if built else set()
        new = [s for s in built if s.name not in have]  # two changes in flight built it twice
        close_all([s for s in built if s.name in have])
        if not new:
            return ""
        self.optional_stages.adopt(new)
        self.stage_sink(new)
        return f"; started the {describe(new)} stage{'s' if len(new) > 1 else ''} it routes"

    @staticmethod
    def drop_stages(prepared) -> str:
        """A switch that did not go live: close what was built for it."""
        from bridge.runtime.optional_stages import close_all

        stages, prepared.stages = prepared.stages, []
        close_all(stages)
        return ""

    def _report(self, level: int, message: str) -> None:
        """A reload's result from the watcher (either thread)."""
        self.record_reload(level < logging.WARNING, message, level=level)

    def record_reload(self, ok: bool, message: str, *, level: int | None = None,
                      log: bool = True) -> None:
        """A mapping change's result (a file reload, or a switch by the control port): kept for
        the status page (one reference assignment) and recorded as a "mapping" event;
        ``log=False`` when the caller writes its own line."""
        import time

        from bridge.runtime.snapshot import Reload

        if level is None:
            level = logging.INFO if ok else logging.WARNING
        self.last_reload = Reload(time.time(), ok, message)
        if self.events is not None:
            self.events.emit("mapping", message, level=level, log=log)
        elif log:
            log_ = logging.getLogger(__name__)
            log_.log(level, "%s", message)

    def schema(self) -> dict:
        """What this output sends (:mod:`bridge.runtime.stream_schema`): the current mapping's
        routes with the catalog's declarations; live = produced by a stage of this run."""
        from bridge.mapping.validate import load_mapping
        from bridge.runtime.stream_schema import describe

        mapping = self.outputs.mapping if self.outputs is not None else load_mapping(
            self.path, signals=_signal_table(self.catalog))
        osc_override = self.overrides.get("osc")
        produced = self.produced() if self.produced is not None else None
        return describe(mapping, self.catalog, produced=produced, mapping_name=self.path,
                        control=self.control, osc_override=osc_override)

    def genre(self) -> str | None:
        """The genre announced with ``/vjbridge/_info``: ``--genre``, else the live mapping's
        ``genre:`` key (a reload that changes it changes what is sent)."""
        if self.genre_override is not None:
            return self.genre_override
        if self.outputs is not None:
            return self.outputs.mapping.genre
        return self._genre_at_load

    def osc_sinks(self) -> dict:
        """OSC sinks by target name (where ``/vjbridge/_info`` goes)."""
        if self.outputs is None:
            return {}
        return {name: sink for (kind, name), sink in self.outputs.sinks.items() if kind == "osc"}

    def info_sinks(self) -> dict:
        """The OSC sinks ``/vjbridge/_info`` goes to: those whose target does not say
        ``announce: false``."""
        if self.outputs is None:
            return {}
        targets = self.outputs.mapping.targets.get("osc", {})
        return {name: sink for name, sink in self.osc_sinks().items()
                if targets.get(name, {}).get("announce", True)}

    def send(self, values: dict[str, float]) -> None:
        self.outputs.tick(values)

    # paced sending (bridge.runtime.engine): route at the frame's arrival, transmit at its time
    def route_early(self, values: dict[str, float]):
        """The routes of a frame's events (:meth:`Router.early`), to transmit now, before
        ``route`` of the same frame."""
        return self.outputs.router.early(values)

    def route(self, values: dict[str, float]):
        return self.outputs.router.tick(values)

    def transmit(self, frame) -> None:
        self.outputs.transmit(frame)

    def poll(self) -> None:
        """Once a second, on the engine thread: make a reloaded mapping the watcher finished live
        (assignments only), then announce the schema."""
        prepared = self.watcher.take() if self.watcher is not None else None
        if prepared is not None:
            problems = self.outputs.switch(prepared, close=self.watcher.retire)
            added = self.adopt_stages(prepared) if not problems else self.drop_stages(prepared)
            self.watcher.applied(prepared, problems, added=added)
            if not problems:
                self.info.invalidate()  # a new mapping: a new schema
        self.info.announce()

    def idle(self) -> None:
        if self.outputs is not None:
            self.outputs.blackout()

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.close()
        if self.outputs is not None:
            self.outputs.close()

    @property
    def drops(self) -> int:
        if self.outputs is None:
            return 0
        return sum(int(s.get("drops", 0)) for s in self.outputs.stats().values())

    @property
    def refused(self) -> int:
        """Packets refused because nothing listens at a UDP target (yet)."""
        if self.outputs is None:
            return 0
        return sum(int(s.get("refused", 0)) for s in self.outputs.stats().values())

    def describe(self) -> str:
        targets = ", ".join(f"{kind}:{name} = {sink.describe()}" for (kind, name), sink
                            in self.outputs.sinks.items()) if self.outputs else ""
        return f"mapping {self.path}" + (f" ({targets})" if targets else "")


class InfoAnnouncer:
    """Sends ``/vjbridge/_info`` (version, digest, the target's schema; see
    :mod:`bridge.runtime.stream_schema`) to every OSC target of ``output``: on start, then at each
    ``announce()`` (the engine polls outputs about once a second). The schema is built once and
    again only after ``invalidate()`` (a reloaded mapping), off the per-frame path. A target that
    cannot take the message (too big for it, closed) is logged once, never raised to the engine.

    When the output has a genre (``output.genre()``: ``run --genre`` or the mapping's ``genre:``),
    the same targets get ``/vjbridge/genre`` and ``/vjbridge/style`` right after ``_info``: the
    genre's name and its style description (:mod:`bridge.genres`), one OSC string each, for a
    diffusion visualiser's prompt (StreamDiffusionTD and similar)."""

    def __init__(self, output):
        self.output = output
        self._schema: dict | None = None
        self._args: dict[str, list] = {}
        self._failed: set[tuple[str, str]] = set()  # (target, address) logged once
        self.sent = 0
        self.styles_sent = 0  # targets that got /vjbridge/genre and /vjbridge/style
        self._genre: str | None = None

    def invalidate(self) -> None:
        self._schema = None

    def schema(self) -> dict:
        if self._schema is None:
            from bridge.runtime.stream_schema import info_message_args

            self._schema = self.output.schema()
            self._args = {name: info_message_args(self._schema, name)
                          for name in self._schema["osc"]}
        return self._schema

    def announce(self) -> None:
        from bridge.genres import GENRE_ADDRESS, STYLE_ADDRESS
        from bridge.runtime.stream_schema import INFO_ADDRESS

        schema = self.schema()
        sinks = getattr(self.output, "info_sinks", self.output.osc_sinks)
        style = self._style()
        for name, sink in sinks().items():
            args = self._args.get(name)
            if args is None:
                continue
            self._send(name, sink, INFO_ADDRESS, args)
            if style is not None and self._send(name, sink, GENRE_ADDRESS, [style[0]]) \
                    and self._send(name, sink, STYLE_ADDRESS, [style[1]]):
                self.styles_sent += 1
        return schema

    def _send(self, name: str, sink, address: str, args: list) -> bool:
        from bridge.runtime.stream_schema import INFO_ADDRESS

        try:
            sink.send_message(address, args)
        except Exception as exc:  # noqa: BLE001 - the data stream matters more than its label
            if (name, address) not in self._failed:
                self._failed.add((name, address))
                log.warning("cannot send %s to osc target %r: %s", address, name, exc)
            return False
        if address == INFO_ADDRESS:
            self.sent += 1
        return True

    def _style(self) -> tuple[str, str] | None:
        """(genre, style description) to announce, or None; logged when it changes."""
        from bridge.genres import GENRE_ADDRESS, STYLE_ADDRESS, STYLES

        genre_of = getattr(self.output, "genre", None)
        genre = genre_of() if callable(genre_of) else None
        if genre != self._genre:
            self._genre = genre
            if genre is not None:
                log.info("genre %s: sending %s and %s (%r)", genre, GENRE_ADDRESS, STYLE_ADDRESS,
                         STYLES[genre])
        return None if genre is None else (genre, STYLES[genre])


def build(spec, *, mapping: str | None = "default", models: list | None = None,
          osc: str | None = None, midi: str | None = None, osc_prefix: str = "/vjbridge",
          control: tuple[str, int] | None = None, link: bool = False, genre: str | None = None,
          midi_backend: str | None = None, segment=None):
    """The stages and outputs ``vjbridge run`` uses: classic signals, the models (default: the
    shipped ones), the mel spectrum when the mapping routes it, and the mapping (a shipped
    mapping's name such as ``"default"``, a path, or ``None`` for raw OSC of every signal under
    ``osc_prefix``). Returns ``(stages, outputs, rate)``; rate is the mapping's (or 60).
    ``control``: the control port's (host, port), announced in ``/vjbridge/_info``. ``link``:
    ``bpm``, ``beat`` and ``beatphase`` follow an Ableton Link session when it has other peers
    (:mod:`bridge.runtime.link_follow`, the last stage, so its values win). ``segment``: the
    ``morph`` segment (:func:`bridge.signals.energy.parse_segment`; None: 4 beats)."""
    from bridge.signals.catalog import CATALOG

    if link:  # before anything opens: one line when aalink is missing
        from bridge.sinks import link_session

        try:
            link_session.require()
        except link_session.LinkUnavailable as exc:
            raise ConfigError(f"--link: {exc}") from None
    if genre is not None:
        from bridge.genres import GenreError, canonical

        try:
            genre = canonical(genre)
        except GenreError as exc:
            raise ConfigError(f"--genre: {exc}") from None
    from bridge.signals.energy import DEFAULT_SEGMENT, parse_segment

    segment = parse_segment(DEFAULT_SEGMENT if segment is None else segment)  # before opening
    catalog = CATALOG.copy()  # this pipeline's: the models declare their outputs into it
    stages = [SignalsStage(spec)]
    paths = shipped_models() if models is None else list(models)
    if paths:
        stages.insert(0, ModelStage(paths, spec, skip_duplicates=models is None, catalog=catalog))
    elif models is None:
        log.warning("no shipped models in %s: model outputs (motion, weight, ...) are not sent; "
                    "a checkout rebuilds them with onnx_models/rebuild.sh", models_dir())
    if mapping is None:
        from bridge.runtime.osc_basic import OscOutput
        from bridge.sinks.osc import parse_osc_target

        host, port = parse_osc_target(osc or "127.0.0.1:7000")
        def in_row_order() -> list[str]:  # the engine's row: stage by stage
            return [name for stage in stages for name in stage.names]

        if link:
            stages.append(_link_stage(spec))
        raw = OscOutput(host, port, prefix=osc_prefix, catalog=catalog, control=control,
                        produced=in_row_order)
        raw.genre = lambda: genre  # announced with /vjbridge/_info (None: nothing)
        return stages, [raw], 60.0
    path = resolve_mapping(os.fspath(mapping))  # a shipped mapping's name, or a file

    def produced() -> set[str]:  # outputs, and the colours models declare
        return {name for stage in stages
                for name in (*stage.names, *getattr(stage, "colours", ()))}

    output = MappingOutput(path, osc=osc, midi=midi, midi_backend=midi_backend,
                           produced=produced, catalog=catalog, control=control, genre=genre)
    if link:  # before the musical stage, which takes its tempo too
        stages.append(_link_stage(spec))
    from bridge.runtime.optional_stages import OptionalStages

    optional = OptionalStages(spec, stages, segment=segment)
    stages.extend(optional.create(output.signals_used))
    output.optional_stages = optional  # a mapping change that routes more builds more
    return stages, [output], output.rate


def _link_stage(spec):
    from bridge.runtime.link_follow import LinkFollow

    return LinkFollow(spec)
