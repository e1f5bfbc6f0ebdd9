"""The light model: a causal 1-D CNN over a window of feature frames -> RGB, in JAX, and its ONNX graph.

Why this shape: the Beatomizer paper maps slices of audio to a light colour with Conv1D -> MaxPool
blocks and dense layers. Live, a model sees one row per model frame: the columns of its
:class:`~bridge.models.context.ContextSpec`. That spec carries the previous frames of six summary
channels (``lags``), not of all 66 features, so the window the CNN convolves over is those six
channels at ``t - W + 1 .. t`` (the value at ``t`` is computed inside the graph from the frame's own
features, exactly as :class:`~bridge.models.context.ContextBuilder` computes a channel), and the
frame's 66 features plus the running-mean context join at the dense layers. No live code changes:
the graph's input is the ordinary ``features`` row.

Why JAX + optax and ``onnx.helper``: see the model card (install size and time were measured);
the graph is written here from the trained weights, layer by layer, and export checks it against
:func:`forward` within 1e-5 before writing it.

Loss: ``(1 - cosine)`` (the paper's metric) + MSE / target variance (cosine alone leaves brightness
free: any multiple of the right colour scores 1) + a smoothness term that penalises frame-to-frame
change of the prediction *beyond the target's own* change (``relu(|Δp| - |Δy|)``, relative to the
target's mean |Δ|), computed on chunks of consecutive frames of one video.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from bridge.models.context import CHANNELS, ContextSpec, _channel_matrix

CONV = (16, 16, 16)  # channels of the Conv1D blocks (each: conv, ReLU, max-pool 2)
KERNEL = 3
DENSE = (64, 32)  # hidden dense layers before the 3 outputs


def limit_threads() -> None:
    """One XLA CPU thread (as the rest of training), unless the caller set XLA_FLAGS."""
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                       "intra_op_parallelism_threads=1")


def context_for(window: int, taus: tuple[float, ...]) -> ContextSpec:
    """The ContextSpec serving a ``window``-frame CNN: lags 1..window-1 of the six channels."""
    return ContextSpec(channels=CHANNELS, lags=tuple(range(1, window)), taus=taus, zscore=True)


@dataclass(frozen=True)
class Layout:
    """Where the window and the dense inputs sit in a context row."""

    window: int
    n_features: int
    seq_cols: np.ndarray  # ((window - 1) * 6,) lag columns, oldest first, channel-minor
    dense_cols: np.ndarray  # frame features + running-mean columns
    M: np.ndarray  # (n_features, 6): linear channels of the current frame
    rms_index: int  # feature column of rms (its channel is 20 log10 rms)

    @classmethod
    def of(cls, context: ContextSpec, n_features: int = 66, *, frame_in_dense: bool = True
           ) -> "Layout":
        """``frame_in_dense=False`` leaves the frame's own 66 features out of the dense inputs (they
        change every frame; the window and the running means change slowly)."""
        if context.channels != CHANNELS or context.lags != tuple(range(1, len(context.lags) + 1)) \
                or context.delta or not context.include_frame or len(context.lags) < 3:
            raise ValueError("the light CNN needs context_for(window, taus): all channels, lags "
                             "1..W-1, no delta, the frame included")
        C, W = len(CHANNELS), len(context.lags) + 1
        lag = np.arange(W - 1, 0, -1)  # oldest first
        seq = (n_features + (lag[:, None] - 1) * C + np.arange(C)[None, :]).ravel()
        first_tau = n_features + (W - 1) * C
        dense = np.concatenate([np.arange(n_features if frame_in_dense else 0),
                                np.arange(first_tau, context.n_outputs(n_features))])
        return cls(W, n_features, seq, dense, _channel_matrix(n_features), n_features - 2)


def split_inputs(F, layout: Layout, xp=np):
    """Context rows ``(n, n_in)`` -> window ``(n, W, 6)`` and dense inputs ``(n, D)``."""
    lags = xp.reshape(F[:, layout.seq_cols], (F.shape[0], layout.window - 1, len(CHANNELS)))
    cur = F[:, :layout.n_features] @ xp.asarray(layout.M, dtype=F.dtype)
    rms = 20.0 * xp.log10(xp.maximum(F[:, layout.rms_index], 1e-5))
    cur = cur + rms[:, None] * xp.asarray(np.eye(len(CHANNELS))[4], dtype=F.dtype)[None, :]
    seq = xp.concatenate([lags, cur[:, None, :]], axis=1)
    return seq, F[:, layout.dense_cols]


def init(*, window: int, n_dense: int, seed: int = 0) -> dict:
    """He-initialised float32 weights of a ``window``-frame CNN with ``n_dense`` dense inputs."""
    rng = np.random.default_rng(seed)
    p, c_in, length = {}, len(CHANNELS), window
    for i, c in enumerate(CONV):
        p[f"conv{i}_w"] = rng.normal(0, math.sqrt(2.0 / (c_in * KERNEL)), (c, c_in, KERNEL))
        p[f"conv{i}_b"] = np.zeros(c)
        c_in, length = c, length // 2
    n_in = c_in * length + n_dense
    for i, h in enumerate(DENSE + (3,)):
        p[f"dense{i}_w"] = rng.normal(0, math.sqrt(2.0 / n_in), (n_in, h))
        p[f"dense{i}_b"] = np.zeros(h)
        n_in = h
    return {k: v.astype(np.float32) for k, v in p.items()}


def forward(params: dict, norm: dict, seq, dense):
    """RGB in [0, 1] of the window ``(n, W, 6)`` and dense inputs ``(n, D)`` (jax.numpy)."""
    import jax
    import jax.numpy as jnp

    x = jnp.transpose((seq - norm["seq_mu"]) / norm["seq_sd"], (0, 2, 1))  # (n, 6, W)
    for i in range(len(CONV)):
        x = jax.lax.conv_general_dilated(x, params[f"conv{i}_w"], (1,), [(KERNEL - 1, 0)],
                                         dimension_numbers=("NCH", "OIH", "NCH"))
        x = jax.nn.relu(x + params[f"conv{i}_b"][None, :, None])
        n, c, length = x.shape
        x = x[:, :, :length // 2 * 2].reshape(n, c, length // 2, 2).max(axis=3)
    h = jnp.concatenate([x.reshape(x.shape[0], -1), (dense - norm["dense_mu"]) / norm["dense_sd"]],
                        axis=1)
    for i in range(len(DENSE) + 1):
        h = h @ params[f"dense{i}_w"] + params[f"dense{i}_b"]
        h = jax.nn.relu(h) if i < len(DENSE) else jax.nn.sigmoid(h)
    return h


def normaliser(seq: np.ndarray, dense: np.ndarray) -> dict:
    """Per-channel (window) and per-column (dense) mean and std of the training rows."""
    s = seq.reshape(-1, seq.shape[2])
    sd = lambda a: np.where(a.std(axis=0) > 1e-6, a.std(axis=0), 1.0)  # noqa: E731
    return {k: v.astype(np.float32) for k, v in
            {"seq_mu": s.mean(axis=0), "seq_sd": sd(s),
             "dense_mu": dense.mean(axis=0), "dense_sd": sd(dense)}.items()}


def chunk_starts(rows: np.ndarray, video: np.ndarray, length: int) -> np.ndarray:
    """Positions ``i`` in sorted ``rows`` whose next ``length`` rows are consecutive in one video."""
    if len(rows) < length:
        return np.zeros(0, dtype=np.int64)
    i = np.arange(len(rows) - length + 1)
    ok = (rows[i + length - 1] - rows[i] == length - 1) & (video[rows[i]] == video[rows[i + length - 1]])
    return i[ok]


def train(seq: np.ndarray, dense: np.ndarray, y: np.ndarray, rows: np.ndarray, video: np.ndarray,
          *, epochs: int, seed: int = 0, lr: float = 2e-3, chunk: int = 16, batch: int = 64,
          smooth: float = 0.5, mse: float = 1.0, within: float = 0.0,
          log=None) -> tuple[dict, dict]:
    """Fit on ``rows`` (sorted indices into seq/dense/y); returns ``(params, norm)`` (numpy)."""
    import jax
    import jax.numpy as jnp
    import optax

    norm = normaliser(seq[rows], dense[rows])
    params = {k: jnp.asarray(v) for k, v in init(window=seq.shape[1], n_dense=dense.shape[1],
                                                 seed=seed).items()}
    starts = chunk_starts(rows, video, chunk)
    if len(starts) < batch:
        raise ValueError(f"too few training rows for chunks of {chunk} consecutive frames")
    ty = y[rows]
    var = float(ty.var(axis=0).mean()) + 1e-8
    d = np.abs(np.diff(y[rows], axis=0))[np.diff(rows) == 1]
    mean_dy = float(d.mean()) + 1e-6
    steps = max(1, len(rows) // (chunk * batch))
    sample = rows[np.random.default_rng(seed).choice(starts, min(len(starts), 4000))[:, None]
                  + np.arange(chunk)[None, :]]
    var_within = float(((y[sample] - y[sample].mean(axis=1, keepdims=True)) ** 2).mean()) + 1e-8
    sched = optax.cosine_decay_schedule(lr, epochs * steps)
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(sched, weight_decay=1e-4))
    state = opt.init(params)
    S, D, Y = (jnp.asarray(a, dtype=jnp.float32) for a in (seq, dense, y))
    N = {k: jnp.asarray(v) for k, v in norm.items()}

    def loss_fn(p, idx):
        x = forward(p, N, S[idx.ravel()], D[idx.ravel()]).reshape(idx.shape + (3,))
        t = Y[idx]
        # sqrt(|a|² + eps): the gradient of a plain norm is NaN at 0 (a sigmoid output can round
        # to 0 in float32); seen as a NaN loss in the first full-corpus fit
        norm = lambda a: jnp.sqrt((a * a).sum(-1) + 1e-12)  # noqa: E731
        cos = (x * t).sum(-1) / (norm(x) * norm(t) + 1e-8)
        dp = jnp.abs(jnp.diff(x, axis=1))
        dt = jnp.abs(jnp.diff(t, axis=1))
        # within: the movement inside a chunk (both centred on their chunk mean), which the MSE
        # alone drowns in the between-video level differences audio cannot know
        xc, tc = x - x.mean(axis=1, keepdims=True), t - t.mean(axis=1, keepdims=True)
        return ((1.0 - cos.mean()) + mse * ((x - t) ** 2).mean() / var
                + smooth * jax.nn.relu(dp - dt).mean() / mean_dy
                + within * ((xc - tc) ** 2).mean() / var_within)

    @jax.jit
    def step(p, s, idx):
        value, grads = jax.value_and_grad(loss_fn)(p, idx)
        updates, s = opt.update(grads, s, p)
        return optax.apply_updates(p, updates), s, value

    rng = np.random.default_rng(seed)
    offsets = np.arange(chunk)
    for epoch in range(epochs):
        order = rng.permutation(starts)[:steps * batch].reshape(steps, batch)
        total = 0.0
        for b in order:
            idx = jnp.asarray(rows[b[:, None] + offsets[None, :]], dtype=jnp.int32)
            params, state, value = step(params, state, idx)
            total += float(value)
        if not np.isfinite(total):
            raise FloatingPointError(f"the light CNN's loss became {total} in epoch {epoch + 1}")
        if log:
            log(f"    epoch {epoch + 1}/{epochs}: loss {total / len(order):.4f}")
    return {k: np.asarray(v) for k, v in params.items()}, norm


def predict(params: dict, norm: dict, seq: np.ndarray, dense: np.ndarray,
            block: int = 4096) -> np.ndarray:
    """Forward in fixed-size blocks (one compilation), float32 in, float64 out."""
    import jax
    import jax.numpy as jnp

    P = {k: jnp.asarray(v) for k, v in params.items()}
    N = {k: jnp.asarray(v) for k, v in norm.items()}
    f = jax.jit(lambda s, d: forward(P, N, s, d))
    out = np.empty((len(seq), 3))
    for a in range(0, len(seq), block):
        s, d = seq[a:a + block], dense[a:a + block]
        k = len(s)
        if k < block:
            s = np.concatenate([s, np.zeros((block - k,) + s.shape[1:], s.dtype)])
            d = np.concatenate([d, np.zeros((block - k,) + d.shape[1:], d.dtype)])
        out[a:a + k] = np.asarray(f(jnp.asarray(s, jnp.float32), jnp.asarray(d, jnp.float32)))[:k]
    return out


# ---- the ONNX graph --------------------------------------------------------------------------------
def to_onnx(params: dict, norm: dict, layout: Layout, n_inputs: int):
    """The trained CNN as an ONNX graph: ``features (n, n_inputs)`` -> ``outputs (n, 3)``."""
    from onnx import TensorProto, helper, numpy_helper

    inits, nodes = [], []

    def const(name, value, dtype=np.float32):
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def node(op, inputs, name, **attrs):
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    C, W = len(CHANNELS), layout.window
    lags = node("Gather", ["features", const("seq_cols", layout.seq_cols, np.int64)], "lags", axis=1)
    lags = node("Reshape", [lags, const("lag_shape", [-1, W - 1, C], np.int64)], "lags3")
    m = np.zeros((n_inputs, C), np.float32)
    m[:layout.n_features] = layout.M
    cur = node("MatMul", ["features", const("channel_matrix", m)], "channels_lin")
    rms = node("Gather", ["features", const("rms_col", [layout.rms_index], np.int64)], "rms", axis=1)
    rms = node("Max", [rms, const("rms_floor", [1e-5])], "rms_floored")
    rms = node("Log", [rms], "rms_ln")
    rms = node("Mul", [rms, const("db_per_neper", [20.0 / math.log(10.0)])], "rms_db")
    rms = node("Mul", [rms, const("rms_onehot", np.eye(C)[4][None, :])], "rms_db_col")
    cur = node("Add", [cur, rms], "channels_now")
    cur = node("Unsqueeze", [cur, const("axis1", [1], np.int64)], "channels_now3")
    x = node("Concat", [lags, cur], "window", axis=1)
    x = node("Sub", [x, const("seq_mu", norm["seq_mu"])], "window_c")
    x = node("Div", [x, const("seq_sd", norm["seq_sd"])], "window_z")
    x = node("Transpose", [x], "window_ncw", perm=[0, 2, 1])
    for i in range(len(CONV)):
        x = node("Conv", [x, const(f"conv{i}_w", params[f"conv{i}_w"]),
                          const(f"conv{i}_b", params[f"conv{i}_b"])], f"conv{i}",
                 kernel_shape=[KERNEL], pads=[KERNEL - 1, 0])
        x = node("Relu", [x], f"conv{i}_relu")
        x = node("MaxPool", [x], f"pool{i}", kernel_shape=[2], strides=[2])
    x = node("Flatten", [x], "conv_flat", axis=1)
    dn = node("Gather", ["features", const("dense_cols", layout.dense_cols, np.int64)], "dense_in",
              axis=1)
    dn = node("Sub", [dn, const("dense_mu", norm["dense_mu"])], "dense_c")
    dn = node("Div", [dn, const("dense_sd", norm["dense_sd"])], "dense_z")
    h = node("Concat", [x, dn], "hidden0_in", axis=1)
    for i in range(len(DENSE) + 1):
        h = node("Gemm", [h, const(f"dense{i}_w", params[f"dense{i}_w"]),
                          const(f"dense{i}_b", params[f"dense{i}_b"])], f"dense{i}")
        h = node("Relu" if i < len(DENSE) else "Sigmoid", [h],
                 f"dense{i}_act" if i < len(DENSE) else "outputs")
    graph = helper.make_graph(
        nodes, "vjbridge_light_cnn",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, n_inputs])],
        [helper.make_tensor_value_info("outputs", TensorProto.FLOAT, [None, 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    import onnx

    onnx.checker.check_model(model)
    return model
