"""Classic VJ signals (bands with auto-gain, onsets, triggers, centroid, tempo) and the catalog.

Why here and not in the models: these are the signals every VJ tool already offers (Milkdrop's
bass/mid/treb, TouchDesigner's audioAnalysis low/mid/high/kick/snare/spectralcentroid), computed from
the same live frames the models see, so a patch built for those tools plugs in unchanged. The
catalog (:mod:`bridge.signals.catalog`) declares every signal once — classic ones here, model outputs
as the models load — and mapping validation, ``vjbridge check`` and the README's OSC schema
(:mod:`bridge.signals.schema_doc`) are generated from it.

Live code imports only numpy from here; nothing imports librosa.
"""

from bridge.signals.bands import BandLayout, BandLevels, Centroid, Levels
from bridge.signals.catalog import (CATALOG, CLASSIC, Catalog, Signal, declare_model_output,
                                    lookup)
from bridge.signals.classic import ClassicSignals
from bridge.signals.tempo import TempoTracker
from bridge.signals.triggers import OnsetTriggers

__all__ = ["BandLayout", "BandLevels", "CATALOG", "CLASSIC", "Catalog", "Centroid",
           "ClassicSignals", "Levels", "OnsetTriggers", "Signal", "TempoTracker",
           "declare_model_output", "lookup"]
