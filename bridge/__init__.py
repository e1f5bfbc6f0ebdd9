"""vjbridge: live music in, learned visual control signals out.

Public API::

    from bridge import FeatureSpec, FeatureExtractor, extract_file

Why the names load lazily (PEP 562): the signal catalog (:mod:`bridge.signals.catalog`) and the
stream schema must import with the standard library alone, because the TouchDesigner component and
its tests read them where numpy is not installed. ``import bridge`` therefore loads nothing heavy;
the first use of ``bridge.FeatureExtractor`` (or ``from bridge import ...``) loads numpy and the
extractor. Nothing here ever loads librosa, scikit-learn or PyAV (a file is decoded with PyAV only
when one is read).
"""

import os as _os

from bridge._lazy import lazy as _lazy

# The extractor and the models multiply small matrices; BLAS/OpenMP worker threads only add
# latency spikes (and fight FFTW's threads). A user's explicit setting still wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    _os.environ.setdefault(_var, "1")

# onnxruntime's telemetry (1DS) writes a growing onnxruntime.db and a persistent device id under
# ~/.cache/Microsoft/DeveloperTools/.onnxruntime when the library loads: a gallery machine must
# not grow files nor carry an id. Its native side reads ORT_DISABLE_TELEMETRY when onnxruntime is
# imported (onnxruntime.disable_telemetry_events() comes too late: the files exist by then).
_os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"

#: Public name -> the module that defines it (imported on first use).
_LAZY = {
    "AudioInfo": "bridge.audio.decode", "audio_info": "bridge.audio.decode",
    "extract_file": "bridge.audio.decode", "iter_audio": "bridge.audio.decode",
    "load_audio": "bridge.audio.decode",
    "FeatureExtractor": "bridge.audio.features",
    "StreamResampler": "bridge.audio.resample",
    "FeatureSpec": "bridge.audio.spec",
    "BridgeError": "bridge.errors",
}

__all__ = sorted(_LAZY) + ["__version__"]


__getattr__, __dir__ = _lazy("bridge", _LAZY, globals())
