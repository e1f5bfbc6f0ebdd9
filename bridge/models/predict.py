"""Offline prediction over a whole file through the same streaming runner the live bridge uses."""

from __future__ import annotations

import numpy as np

from bridge.audio.decode import iter_audio
from bridge.audio.features import FeatureExtractor
from bridge.errors import MediaError
from bridge.models.onnx_model import OnnxModel
from bridge.models.runner import ModelRunner


def predict_file(model_path, audio_path, *, rate: float | None = None):
    """``(times (n,), values (n, k), names)``; time = seconds after the first audio sample at which
    each frame's window ends (the moment the live bridge would emit it)."""
    return predict_model(OnnxModel.load(model_path), audio_path, rate=rate)


def colour_columns(values, names, colours) -> dict[str, np.ndarray]:
    """Each declared colour (:class:`~bridge.models.onnx_model.Colour`) of a model as ``(n, 3)``
    linear RGB, taken from the prediction columns ``values`` named ``names``."""
    index = {n: j for j, n in enumerate(names)}
    return {c.name: np.asarray(values)[:, [index[ch] for ch in c.channels]] for c in colours}


def predict_model(model: OnnxModel, audio_path, *, rate: float | None = None):
    """:func:`predict_file` with a loaded model."""
    live = model.spec if rate is None else model.spec.replace(fps=rate)
    runner = ModelRunner(model, live)
    extractor = FeatureExtractor(live)
    outs, pending, held = [], [], 0
    for block in iter_audio(audio_path, sample_rate=live.sample_rate):
        pending.append(block)
        held += block.size
        if held >= 30 * live.sample_rate:
            outs.append(runner.process(extractor.process(np.concatenate(pending))))
            pending, held = [], 0
    if pending:
        outs.append(runner.process(extractor.process(np.concatenate(pending))))
    values = np.concatenate(outs) if outs else np.zeros((0, model.n_outputs))
    if len(values) == 0:
        raise MediaError(f"{audio_path}: shorter than one analysis window "
                         f"({live.window_seconds * 1000:.0f} ms); nothing to predict")
    return live.frame_end_times(len(values)), values, model.names
