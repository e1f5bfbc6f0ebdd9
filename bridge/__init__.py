"""vjbridge: live music in, learned visual control signals out.

Public API::

    from bridge import FeatureSpec, FeatureExtractor, extract_file

Importing ``bridge`` loads numpy and the extractor only: no librosa, no scikit-learn, no PyAV (a
file is decoded with PyAV only when one is read).
"""

import os as _os

# The extractor and the models multiply small matrices; BLAS/OpenMP worker threads only add
# latency spikes (and fight FFTW's threads). A user's explicit setting still wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    _os.environ.setdefault(_var, "1")

from bridge.audio.decode import AudioInfo, audio_info, extract_file, iter_audio, load_audio  # noqa: E402
from bridge.audio.features import FeatureExtractor  # noqa: E402
from bridge.audio.resample import StreamResampler  # noqa: E402
from bridge.audio.spec import FeatureSpec  # noqa: E402
from bridge.errors import BridgeError  # noqa: E402

__version__ = "0.1.0"

__all__ = ["AudioInfo", "BridgeError", "FeatureExtractor", "FeatureSpec", "StreamResampler",
           "audio_info", "extract_file", "iter_audio", "load_audio", "__version__"]
