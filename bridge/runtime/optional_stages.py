"""The stages a run adds only when its mapping routes their signals (the mel spectrum, WLED's GEQ,
the CPPN latent, the musical signals, energy and morph), at start and on a live mapping change.

Why one place: a run used to choose these once, from the mapping it started with. A reload (or a
control-port switch) that routed ``pitch`` or ``mel`` was accepted and reported as reloaded, and
those routes stayed silent without a word. Now the slow side of a change (the reload watcher's
thread, the control thread) builds, starts and warms up what the new mapping needs and this run
lacks (:meth:`OptionalStages.build`); the engine thread adds the finished stages between frames
when the switch goes live (:meth:`OptionalStages.adopt`). Stages are only ever added: one that a
later mapping stops routing keeps running, idle to the routes (a few µs a frame), so switching
back and forth never rebuilds anything.

Order follows what each reads: the musical stage takes the tempo of the classic signals (and
Link), the energy stage after every tempo stage.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

def _needs() -> dict[str, set[str]]:
    """Optional stage name -> the signals that make a run need it, in the order they run."""
    from bridge.runtime.energy_stage import SIGNALS as ENERGY
    from bridge.runtime.geq_stage import SIGNALS as GEQ
    from bridge.runtime.musical_stage import SIGNALS as MUSICAL

    return {"spectrum": {"mel"}, "geq": set(GEQ), "z": {"z"}, "musical": set(MUSICAL),
            "energy": set(ENERGY)}


class OptionalStages:
    """Builds the optional stages of the run whose stage list is ``stages`` (the pipeline's own
    list: :meth:`adopt` extends it, so what the run produces stays true). ``segment``: the
    ``morph`` segment."""

    def __init__(self, spec, stages: list, *, segment) -> None:
        self.spec = spec
        self.stages = stages
        self.segment = segment

    def missing(self, used: set[str]) -> list[str]:
        """Names of the optional stages ``used`` signals need that this run lacks, in order."""
        have = {s.name for s in self.stages}
        return [name for name, signals in _needs().items()
                if signals & used and name not in have]

    def create(self, used: set[str]) -> list:
        """The missing stages, constructed (not started); start-up uses this directly."""
        new: list = []
        for name in self.missing(used):
            if name == "spectrum":
                from bridge.runtime.stages import SpectrumStage

                new.append(SpectrumStage(self.spec))
            elif name == "geq":  # WLED's geq, majorpeak, magnitude
                from bridge.runtime.geq_stage import geq_stages

                new += geq_stages(self.spec)
            elif name == "z":  # the CPPN latent: its own extractor (30 Hz, 1/15 s)
                from bridge.runtime.z_stage import ZStage

                new.append(ZStage(self.spec))
            elif name == "musical":  # pitch, warmth, roughness, speed
                from bridge.runtime.musical_stage import MusicalStage

                tempo = [s for s in [*self.stages, *new] if s.name in ("signals", "link")]
                new.append(MusicalStage(self.spec, tempo_from=tempo))
            elif name == "energy":  # energy, morph: after the tempo stages
                from bridge.runtime.energy_stage import energy_stage

                new.append(energy_stage(self.spec, [*self.stages, *new], segment=self.segment))
        return new

    def build(self, used: set[str]) -> list:
        """Slow side of a mapping change: the missing stages, started and warmed up (their first
        call builds FFT plans and caches), ready for :meth:`adopt`. A stage that cannot start
        closes the ones started before it and raises."""
        new = self.create(used)
        started = []
        try:
            for stage in new:
                stage.start()
                started.append(stage)
            warm_up(new, self.spec)
        except BaseException:
            close_all(started)
            raise
        return new

    def adopt(self, new: list) -> None:
        """Engine thread: ``new`` (from :meth:`build`) are now part of the run."""
        self.stages.extend(new)


def warm_up(stages, spec, *, extractor=None) -> None:
    """Run a little silence through ``stages`` (``extractor``'s frames, a fresh extractor's when
    None), then reset them: FFT plans, ONNX sessions and caches get built now instead of on the
    first live frames."""
    from bridge.audio.features import FeatureExtractor

    ex = extractor if extractor is not None else FeatureExtractor(spec)
    silence = np.zeros(spec.n_fft + 8 * spec.hop_length)
    ex.process(silence[:spec.n_fft])
    for i in range(8):
        frames = ex.process(silence[spec.n_fft + i * spec.hop_length:
                                    spec.n_fft + (i + 1) * spec.hop_length])
        for stage in stages:
            stage.process(frames)
    ex.reset()
    for stage in stages:
        stage.reset()


def close_all(stages) -> None:
    for stage in stages:
        try:
            stage.close()
        except Exception as exc:  # noqa: BLE001 - close the rest
            log.error("while closing stage %s: %s", getattr(stage, "name", stage), exc)


def describe(new: list) -> str:
    """``"spectrum, musical"``: the stages a change added, for its report line."""
    return ", ".join(s.name for s in new)
