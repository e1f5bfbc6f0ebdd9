"""Classic VJ signals (bands with auto-gain, onsets, triggers, centroid, tempo) and the catalog.

Why here and not in the models: these are the signals every VJ tool already offers (Milkdrop's
bass/mid/treb, TouchDesigner's audioAnalysis low/mid/high/kick/snare/spectralcentroid), computed from
the same live frames the models see, so a patch built for those tools plugs in unchanged. The
catalog (:mod:`bridge.signals.catalog`) declares every signal once — classic ones here, model outputs
as the models load — and mapping validation, ``vjbridge check``, ``vjbridge schema`` and the README's
OSC schema (:mod:`bridge.signals.schema_doc`) are generated from it.

The names load lazily (PEP 562): ``import bridge.signals.catalog`` needs only the standard library
(the TouchDesigner component's tests load it without numpy); the stages load numpy on first use.
Nothing here imports librosa.
"""

from bridge._lazy import lazy as _lazy

_LAZY = {
    "BandLayout": "bridge.signals.bands", "BandLevels": "bridge.signals.bands",
    "Centroid": "bridge.signals.bands", "Levels": "bridge.signals.bands",
    "CATALOG": "bridge.signals.catalog", "CLASSIC": "bridge.signals.catalog",
    "Catalog": "bridge.signals.catalog", "Signal": "bridge.signals.catalog",
    "declare_model_output": "bridge.signals.catalog", "lookup": "bridge.signals.catalog",
    "ClassicSignals": "bridge.signals.classic",
    "TempoTracker": "bridge.signals.tempo",
    "OnsetTriggers": "bridge.signals.triggers",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = _lazy("bridge.signals", _LAZY, globals())
