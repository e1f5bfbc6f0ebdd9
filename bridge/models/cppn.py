"""`CppnModel`: a NeuroMV pattern-producing network (ONNX) and the z spec it was made for.

Why its own loader: a CPPN maps a pixel's ``(x, y, r)`` and the audio latent ``z`` to a colour;
it is not a feature -> signal model (no context, no named outputs), but like those it must never be
fed other features than it was made for. So the graph carries its z spec as a
:class:`~bridge.audio.spec.FeatureSpec` (``vjbridge.feature_spec`` + ``vjbridge.spec_digest``, as
every vjbridge model), the z normalisation (``vjbridge.z_norm``) and its shape (``vjbridge.cppn``:
width, depth, n_z, how it was made and fitted); :meth:`CppnModel.load` checks them against the
graph, one :class:`~bridge.errors.ModelError` line for anything wrong.

Graph: inputs ``coords`` ``(P, 3)`` (x, y in [-1, 1], the radius) and ``z`` ``(F, n_z)``; output
``rgb`` ``(F, P, 3)`` in 0..1 (sigmoid). The first layer is ``coords @ Wc + z @ Wz + b``: the z
term is computed once per frame, not per pixel. Built by :mod:`bridge.training.cppn`.
"""

from __future__ import annotations

import json
import os

import numpy as np

from bridge.audio.spec import FeatureSpec
from bridge.errors import BridgeError, ModelError, SpecMismatchError

KIND = "cppn"
REQUIRED = ("format_version", "kind", "feature_spec", "spec_digest", "z_norm", "cppn")


def grid(size: int, height: int | None = None) -> np.ndarray:
    """Pixel coordinates ``(h*w, 3)`` float32, row-major from the top-left: x in [-1, 1] across,
    y the same scale (square pixels), and the radius ``sqrt(x^2 + y^2)``."""
    w, h = int(size), int(height or size)
    x = (np.arange(w) + 0.5) / w * 2 - 1
    y = ((np.arange(h) + 0.5) / h * 2 - 1) * (h / w)
    X, Y = np.meshgrid(x, y)
    return np.stack([X, Y, np.hypot(X, Y)], axis=-1).reshape(-1, 3).astype(np.float32)


class CppnModel:
    """``frames(z (F, n_z), coords) -> (F, P, 3)`` float32 in 0..1, with the metadata checked."""

    def __init__(self, path, session, meta: dict[str, str]):
        self.path = where = os.fspath(path)
        if not str(meta.get("format_version", "")).isdigit() or int(meta["format_version"]) > 1:
            raise ModelError(f"{where}: vjbridge.format_version {meta.get('format_version')!r} is "
                             "not one this vjbridge reads (1); upgrade vjbridge or re-make it")
        if meta.get("kind") != KIND:
            raise ModelError(f"{where}: vjbridge.kind is {meta.get('kind')!r}, not 'cppn'")
        try:
            self.spec = FeatureSpec.from_json(meta["feature_spec"])
            self.norm = json.loads(meta["z_norm"])
            self.info = json.loads(meta["cppn"])
            self.n_z, self.width, self.depth = (int(self.info[k]) for k in ("n_z", "width", "depth"))
        except (BridgeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{where}: bad CPPN metadata: {exc}; re-make it with "
                             "`vjbridge cppn new` or `vjbridge cppn fit`") from None
        if self.spec.digest != meta["spec_digest"]:
            raise ModelError(f"{where}: vjbridge.spec_digest does not match its feature_spec; "
                             "the file was edited or damaged; re-make it")
        if self.spec.n_mels != self.n_z:
            raise ModelError(f"{where}: z has {self.n_z} values but its spec has "
                             f"{self.spec.n_mels} mel bands; re-make the model")
        for key in ("min_std", "clip", "tau"):
            if not isinstance(self.norm.get(key), (int, float)):
                raise ModelError(f"{where}: vjbridge.z_norm lacks the number {key!r}")
        names = {i.name: i.shape for i in session.get_inputs()}
        if set(names) != {"coords", "z"} or names["z"][-1] != self.n_z:
            raise ModelError(f"{where}: expected graph inputs coords (P, 3) and z (F, {self.n_z}); "
                             f"got {names}")
        self._session = session

    @classmethod
    def load(cls, path, *, threads: int = 1) -> "CppnModel":
        import onnxruntime as ort

        path = os.fspath(path)
        if not os.path.isfile(path):
            raise ModelError(f"{path}: no such CPPN model; make one with `vjbridge cppn new`")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(threads))
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            session = ort.InferenceSession(path, sess_options=opts,
                                           providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelError(f"{path}: not a readable ONNX model ({first[:160]})") from None
        props = session.get_modelmeta().custom_metadata_map
        meta = {k[len("vjbridge."):]: v for k, v in props.items() if k.startswith("vjbridge.")}
        missing = [k for k in REQUIRED if k not in meta]
        if missing:
            raise ModelError(f"{path}: not a vjbridge CPPN (lacks "
                             f"{', '.join('vjbridge.' + k for k in missing)}); make one with "
                             "`vjbridge cppn new` or `vjbridge cppn fit`")
        return cls(path, session, meta)

    def check_servable(self, sample_rate: int) -> None:
        """The z extractor runs at ``sample_rate``: a model made for another is an error."""
        if self.spec.sample_rate != sample_rate:
            raise SpecMismatchError(
                f"{self.path}: its z spec is at {self.spec.sample_rate} Hz but the extractor "
                f"runs at {sample_rate} Hz; re-make the model for {sample_rate} Hz")

    def frames(self, z: np.ndarray, coords: np.ndarray) -> np.ndarray:
        z = np.ascontiguousarray(z, dtype=np.float32).reshape(-1, self.n_z)
        return self._session.run(["rgb"], {"coords": coords, "z": z})[0]

    def describe(self) -> str:
        fit = self.info.get("fit") or {}
        how = (f"fitted to {fit.get('image')} ({fit.get('steps')} steps, PSNR "
               f"{fit.get('psnr', float('nan')):.1f} dB)" if fit else
               f"random (seed {self.info.get('seed')})")
        return (f"{os.path.basename(self.path)}: CPPN {self.depth}x{self.width} tanh, z = "
                f"{self.n_z} mel bands ({self.spec.describe()}); {how}")
