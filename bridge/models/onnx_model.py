"""`OnnxModel`: a vjbridge model file loaded with onnxruntime, its metadata read and checked.

Why strict loading: a show must not start on a model fed the wrong features. The graph's metadata
(written by :mod:`bridge.training.export`) names the feature spec, the causal context and the outputs;
they are parsed and cross-checked against the graph's own input/output shapes here, and anything
missing, corrupt or inconsistent is one :class:`~bridge.errors.ModelError` line naming the file and the
fix. onnxruntime runs with one intra-op and one inter-op thread, sequentially: a single-row ``run()``
costs ~7 µs for Ridge here, and default thread pools gave millisecond spikes on a busy box.

Imports only numpy at module level; onnxruntime is imported when a model is loaded.
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass

import numpy as np

from bridge.audio.spec import FeatureSpec
from bridge.errors import BridgeError, ModelError
from bridge.models.context import ContextSpec

#: onnxruntime versions whose private session/binding objects ``predict_row`` calls (tested
#: here); any other version takes the public ``run_with_iobinding``. Why keep them at all: after
#: a 10 ms pause (the live engine's case) the private call measured 188 µs against 230 µs public
#: (median of ~400 each, randomised order, 2026-12-01, load ~10), ~0.25 % of one core at 60 Hz:
#: a twelfth of the daemon's 3 % target (issue 9), so it still matters.
INTERNALS_TESTED = ((1, 17), (1, 32))

FORMAT_VERSION = 1
PREFIX = "vjbridge."
REQUIRED = ("format_version", "feature_spec", "spec_digest", "context", "outputs")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")  # a signal name (bridge.signals.catalog)


@dataclass(frozen=True)
class Output:
    name: str
    min: float
    max: float
    description: str


@dataclass(frozen=True)
class Colour:
    """A colour the model outputs as three of its outputs (linear RGB 0..1, in r, g, b order).

    Why declared by the model: the live side treats a colour as one value (auto-range, smoothing
    and curves act on its brightness and saturation, never on r, g and b each on its own, which
    shifts the hue); only the model knows which of its outputs form one."""

    name: str
    channels: tuple[str, str, str]


def parse_colours(text: str | None, names: tuple[str, ...], where: str) -> tuple[Colour, ...]:
    """``vjbridge.colours`` (a JSON list of ``{"name", "channels": [r, g, b]}``) checked against
    the model's output ``names``; absent = no colours. Anything wrong is one :class:`ModelError`."""
    if text is None:
        return ()
    key = PREFIX + "colours"
    shape = f'a JSON list like [{{"name": "colour", "channels": ["r", "g", "b"]}}]'
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"{where}: {key} is not JSON ({exc.msg}); it must be {shape}") from None
    if not isinstance(items, list):
        raise ModelError(f"{where}: {key} must be {shape}")
    out, seen = [], set()
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) - {"name", "channels", "description"} \
                or not isinstance(item.get("name"), str) or not _NAME.match(item["name"]):
            raise ModelError(f"{where}: {key}[{i}] must be {{\"name\": a lower-case name, "
                             f"\"channels\": [r, g, b]}}; got {str(item)[:80]}")
        name, channels = item["name"], item.get("channels")
        if not isinstance(channels, list) or len(channels) != 3 \
                or not all(isinstance(c, str) for c in channels):
            raise ModelError(f"{where}: {key} colour {name!r} needs exactly 3 channel names "
                             f"(r, g, b outputs); got {str(channels)[:80]}")
        unknown = [c for c in channels if c not in names]
        if unknown:
            raise ModelError(f"{where}: {key} colour {name!r} names channel {unknown[0]!r}, which "
                             f"is not in vjbridge.outputs ({', '.join(names)})")
        if len(set(channels)) != 3:
            raise ModelError(f"{where}: {key} colour {name!r} repeats a channel ({channels})")
        if name in names or name in seen:
            raise ModelError(f"{where}: {key} colour {name!r} has the name of an output or of "
                             "another colour; give it its own name")
        seen.add(name)
        out.append(Colour(name, tuple(channels)))
    return tuple(out)


class OnnxModel:
    """``predict(rows (n, n_inputs)) -> (n, n_outputs)`` float64; metadata as attributes."""

    def __init__(self, path, session, metadata: dict[str, str]):
        self.path = os.fspath(path)
        self._session = session
        self.metadata = metadata
        where = f"{self.path}"
        try:
            version = int(metadata["format_version"])
        except ValueError:
            raise ModelError(f"{where}: vjbridge.format_version is not an integer") from None
        if version > FORMAT_VERSION:
            raise ModelError(f"{where}: model format {version} is newer than this vjbridge "
                             f"understands ({FORMAT_VERSION}); upgrade vjbridge")
        try:
            self.spec = FeatureSpec.from_json(metadata["feature_spec"])
            self.context = ContextSpec.from_json(metadata["context"])
        except BridgeError as exc:
            raise ModelError(f"{where}: bad model metadata: {exc}") from None
        if self.spec.digest != metadata["spec_digest"]:
            raise ModelError(f"{where}: vjbridge.spec_digest does not match its feature_spec; "
                             "the file was edited or damaged; re-export it")
        try:
            outs = json.loads(metadata["outputs"])
            self.outputs = tuple(Output(str(o["name"]), float(o["min"]), float(o["max"]),
                                        str(o.get("description", ""))) for o in outs)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{where}: vjbridge.outputs is not a list of "
                             f"{{name, min, max, description}} ({exc})") from None
        self.names = tuple(o.name for o in self.outputs)
        #: the colours among the outputs (``vjbridge.colours``; none when the key is absent)
        self.colours = parse_colours(metadata.get("colours"), self.names, where)
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if len(inputs) != 1 or inputs[0].name != "features":
            raise ModelError(f"{where}: expected one graph input named 'features'; got "
                             f"{[i.name for i in inputs]}")
        self.n_inputs = self.context.n_outputs(self.spec.n_features)
        shape = inputs[0].shape
        if len(shape) != 2 or shape[1] != self.n_inputs:
            raise ModelError(f"{where}: input 'features' has shape {shape} but its feature spec and "
                             f"context give {self.n_inputs} columns; re-export the model")
        oshape = outputs[0].shape
        if len(outputs) != 1 or len(oshape) != 2 or oshape[1] != len(self.outputs):
            raise ModelError(f"{where}: graph output shape {oshape} does not match the "
                             f"{len(self.outputs)} outputs named in vjbridge.outputs")
        self._out_name = outputs[0].name
        self._binding = None  # the IOBinding of predict_row, made on its first call
        self.cv_metrics = json.loads(metadata.get("cv_metrics", "{}") or "{}")
        self.train_data_hash = metadata.get("train_data_hash")

    @property
    def n_outputs(self) -> int:
        return len(self.outputs)

    @classmethod
    def load(cls, path) -> "OnnxModel":
        import onnxruntime as ort

        path = os.fspath(path)
        if not os.path.isfile(path):
            raise ModelError(f"{path}: no such model file; check the path (shipped models are in "
                             "onnx_models/)")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        try:
            session = ort.InferenceSession(path, sess_options=opts,
                                           providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{path}: not a readable ONNX model ({first[:160]}); re-export it "
                             "with `vjbridge export`") from None
        props = session.get_modelmeta().custom_metadata_map
        meta = {k[len(PREFIX):]: v for k, v in props.items() if k.startswith(PREFIX)}
        if meta.get("kind") == "cppn":
            raise ModelError(f"{path}: a CPPN (pictures from z), not a signal model; use it with "
                             "`vjbridge render --model` or `vjbridge cppn export-glsl`")
        missing = [k for k in REQUIRED if k not in meta]
        if missing:
            what = ("has no vjbridge metadata: not a vjbridge model" if len(missing) == len(REQUIRED)
                    else f"lacks metadata {', '.join(PREFIX + k for k in missing)}")
            raise ModelError(f"{path}: {what}; export models with `vjbridge export`")
        return cls(path, session, meta)

    def predict(self, rows) -> np.ndarray:
        x = np.ascontiguousarray(rows, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(f"{self.path} expects (n, {self.n_inputs}) rows; got {x.shape}")
        if x.shape[0] == 0:
            return np.zeros((0, self.n_outputs))
        return self._session.run([self._out_name], {"features": x})[0].astype(np.float64)

    def predict_row(self, row: np.ndarray) -> np.ndarray:
        """One input row ``(n_inputs,)`` -> ``(1, n_outputs)`` float64: the live path.

        The same graph as :meth:`predict`, run through an onnxruntime IOBinding on preallocated
        float32 input/output buffers (no feed dict, no input validation, no output allocation by
        onnxruntime: ~3-4 µs less per call than ``session.run`` here). The binding runs through the
        session's C++ object with one reused ``RunOptions``: the Python ``run_with_iobinding``
        wrapper only adds WebGPU graph-capture checks (~0.5 µs), and ``run_options=None`` makes
        onnxruntime build default options on every call (~1 µs); measured 8.5 -> 6.8 µs per call
        for the shipped model. Without those internals (another onnxruntime), the public call."""
        if self._binding is None:
            self._bind()
        self._in32[0] = row  # float64 -> float32, as ascontiguousarray(dtype=float32) rounds
        self._run()
        return self._out32.astype(np.float64)

    def _bind(self) -> None:
        import onnxruntime as ort

        x = ort.OrtValue.ortvalue_from_shape_and_type([1, self.n_inputs], np.float32)
        y = ort.OrtValue.ortvalue_from_shape_and_type([1, self.n_outputs], np.float32)
        binding = self._session.io_binding()
        binding.bind_ortvalue_input("features", x)
        binding.bind_ortvalue_output(self._out_name, y)
        self._in32, self._out32 = x.numpy(), y.numpy()  # views of the bound buffers
        self._keep = (x, y)
        if (self._in32.__array_interface__["data"][0] != x.data_ptr()
                or self._out32.__array_interface__["data"][0] != y.data_ptr()):
            raise ModelError(f"{self.path}: onnxruntime did not expose its bound buffers")
        sess, raw = getattr(self._session, "_sess", None), getattr(binding, "_iobinding", None)
        if _internals_tested(ort.__version__) and callable(
                getattr(sess, "run_with_iobinding", None)) and raw is not None:
            self._run = functools.partial(sess.run_with_iobinding, raw, ort.RunOptions())
        else:
            self._run = functools.partial(self._session.run_with_iobinding, binding)
        self._binding = binding

    def describe(self) -> str:
        colours = "".join(f"; colour {c.name} = {', '.join(c.channels)}" for c in self.colours)
        return (f"{os.path.basename(self.path)}: outputs {', '.join(self.names)}{colours}; "
                f"{self.spec.describe()}; {self.n_inputs} inputs")


def _internals_tested(version: str) -> bool:
    """True when onnxruntime ``version`` is within :data:`INTERNALS_TESTED` (major.minor)."""
    try:
        major_minor = tuple(int(p) for p in version.split(".")[:2])
    except ValueError:
        return False
    low, high = INTERNALS_TESTED
    return low <= major_minor <= high
