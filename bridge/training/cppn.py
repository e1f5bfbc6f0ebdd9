"""Making NeuroMV CPPNs: random from a seed, or fitted to a reference image (JAX + optax), written
as ONNX with their z spec (read back by :class:`bridge.models.cppn.CppnModel`).

Why JAX: it is what the project already trains with (the light CNN, :mod:`bridge.training.light`),
in the ``train`` extra; the live side and ``vjbridge render`` need only onnxruntime.

Architecture (NeuroMV): inputs ``x, y, r`` and ``z``; ``depth`` hidden layers of ``width`` tanh
units; sigmoid RGB. Weights are Gaussian, ``std = init_scale / sqrt(fan_in)`` for the hidden and
output layers; the first layer's coordinate weights use ``init_scale / sqrt(3)`` and its z weights
``z_scale / sqrt(n_z)``: ``z_scale`` is how loud the audio is in the picture.

Fitting to an image: each step shows the network the image at a batch of random latents
``z ~ N(0, 1)`` (clipped as live z is), so the longer it trains the more it learns to *ignore* z:
the trade-off NeuroMV's authors describe (a closer picture, a more static video). ``steps`` is
that knob; :func:`fit` reports, at each checkpoint, the fit (PSNR, mean over latents) and the
audio sensitivity (:func:`sensitivity`: mean absolute pixel change per unit change of z).
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from bridge.audio.zlatent import DEFAULT_BANDS, NORM, z_spec
from bridge.models.cppn import KIND, grid
from bridge.models.onnx_model import FORMAT_VERSION


def init_params(seed: int, *, n_z: int = DEFAULT_BANDS, width: int = 32, depth: int = 5,
                init_scale: float = 3.0, z_scale: float = 1.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(Wc, Wz, b0), (W, b) * (depth - 1), (Wo, bo)]`` as float32 (layer 0 has three parts)."""
    if depth < 1 or width < 1 or n_z < 1:
        raise ValueError(f"depth, width and n_z must be >= 1; got {depth}, {width}, {n_z}")
    rng = np.random.default_rng(seed)
    g = lambda *shape, std: (rng.standard_normal(shape) * std).astype(np.float32)  # noqa: E731
    layers = [(g(3, width, std=init_scale / np.sqrt(3)), g(n_z, width, std=z_scale / np.sqrt(n_z)),
               g(width, std=init_scale * 0.5))]
    for _ in range(depth - 1):
        layers.append((g(width, width, std=init_scale / np.sqrt(width)), g(width, std=0.1)))
    layers.append((g(width, 3, std=init_scale / np.sqrt(width)), np.zeros(3, np.float32)))
    return layers


def forward(params, coords: np.ndarray, z: np.ndarray, xp=np):
    """``(F, P, 3)`` colours for latents ``z (F, n_z)`` at ``coords (P, 3)``; ``xp`` numpy or jax."""
    (Wc, Wz, b0), *hidden, (Wo, bo) = params
    h = xp.tanh((coords @ Wc)[None, :, :] + (z @ Wz + b0)[:, None, :])
    for W, b in hidden:
        h = xp.tanh(h @ W + b)
    return 1 / (1 + xp.exp(-(h @ Wo + bo)))


def to_onnx(params, *, spec, info: dict, description: str = "") -> bytes:
    """The ONNX graph of ``params`` (inputs ``coords``, ``z``; output ``rgb``) with its metadata."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    (Wc, Wz, b0), *hidden, (Wo, bo) = params
    inits, nodes = [], []

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    const("axis0", np.array([0], np.int64))
    const("axis1", np.array([1], np.int64))
    nodes += [helper.make_node("MatMul", ["coords", const("Wc", Wc)], ["c0"]),
              helper.make_node("Unsqueeze", ["c0", "axis0"], ["c1"]),
              helper.make_node("MatMul", ["z", const("Wz", Wz)], ["zw"]),
              helper.make_node("Add", ["zw", const("b0", b0)], ["zb"]),
              helper.make_node("Unsqueeze", ["zb", "axis1"], ["z1"]),
              helper.make_node("Add", ["c1", "z1"], ["a0"]),
              helper.make_node("Tanh", ["a0"], ["h0"])]
    last = "h0"
    for i, (W, b) in enumerate(hidden, 1):
        nodes += [helper.make_node("MatMul", [last, const(f"W{i}", W)], [f"m{i}"]),
                  helper.make_node("Add", [f"m{i}", const(f"b{i}", b)], [f"a{i}"]),
                  helper.make_node("Tanh", [f"a{i}"], [f"h{i}"])]
        last = f"h{i}"
    nodes += [helper.make_node("MatMul", [last, const("Wo", Wo)], ["mo"]),
              helper.make_node("Add", ["mo", const("bo", bo)], ["ao"]),
              helper.make_node("Sigmoid", ["ao"], ["rgb"])]
    n_z = Wz.shape[0]
    graph = helper.make_graph(
        nodes, "cppn",
        [helper.make_tensor_value_info("coords", TensorProto.FLOAT, ["P", 3]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, ["F", n_z])],
        [helper.make_tensor_value_info("rgb", TensorProto.FLOAT, ["F", "P", 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # onnxruntime >= 1.17 reads it
    onnx.checker.check_model(model)
    meta = {"vjbridge.format_version": str(FORMAT_VERSION), "vjbridge.kind": KIND,
            "vjbridge.feature_spec": spec.to_json(), "vjbridge.spec_digest": spec.digest,
            "vjbridge.z_norm": json.dumps(NORM), "vjbridge.cppn": json.dumps(info)}
    model.producer_name = "vjbridge"
    model.doc_string = description
    helper.set_model_props(model, meta)
    return model.SerializeToString()


def params_info(params, **extra) -> dict:
    (Wc, Wz, _), *hidden, _ = params
    return {"n_z": int(Wz.shape[0]), "width": int(Wc.shape[1]), "depth": 1 + len(hidden),
            "inputs": ["x", "y", "r", "z"], "activation": "tanh", "output": "sigmoid rgb",
            **extra}


def write(path: str, blob: bytes) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(blob)
    os.replace(tmp, path)


def make_random(out: str, *, seed: int, n_z: int = DEFAULT_BANDS, width: int = 32, depth: int = 5,
                init_scale: float = 3.0, z_scale: float = 1.0) -> dict:
    params = init_params(seed, n_z=n_z, width=width, depth=depth, init_scale=init_scale,
                         z_scale=z_scale)
    info = params_info(params, seed=seed, init_scale=init_scale, z_scale=z_scale, fit=None,
                       sensitivity=sensitivity(params))
    write(out, to_onnx(params, spec=z_spec(n_z), info=info,
                       description=f"random CPPN, seed {seed}"))
    return info


# ---- fit and its two numbers -----------------------------------------------------------------------
def latents(rng, n: int, n_z: int) -> np.ndarray:
    """``n`` random latents as live z looks: N(0, 1), clipped to +-clip."""
    return np.clip(rng.standard_normal((n, n_z)), -NORM["clip"], NORM["clip"]).astype(np.float32)


def sensitivity(params, *, size: int = 64, n: int = 16, step: float = 1.0, seed: int = 1) -> float:
    """Mean |pixel change| (0..255 units) when z moves by ``step`` (Euclidean) in a random
    direction, divided by ``step``: frame-to-frame change per unit change of z."""
    rng = np.random.default_rng(seed)
    n_z = params[0][1].shape[0]
    z = latents(rng, n, n_z)
    u = rng.standard_normal((n, n_z)).astype(np.float32)
    u *= step / np.linalg.norm(u, axis=1, keepdims=True)
    c = grid(size)
    a, b = forward(params, c, z), forward(params, c, z + u)
    return float(np.abs(a - b).mean() * 255 / step)


def psnr(params, target: np.ndarray, *, n: int = 16, seed: int = 2) -> float:
    """Mean PSNR (dB) of the picture against ``target (h, w, 3)`` 0..1 over ``n`` random latents."""
    rng = np.random.default_rng(seed)
    h, w = target.shape[:2]
    out = forward(params, grid(w, h), latents(rng, n, params[0][1].shape[0]))
    mse = ((out - target.reshape(1, -1, 3)) ** 2).mean(axis=(1, 2))
    return float(np.mean(10 * np.log10(1.0 / np.maximum(mse, 1e-12))))


def load_image(path: str, size: int) -> np.ndarray:
    """``(size, size, 3)`` float32 0..1: the image centre-cropped square and resized (PyAV)."""
    import av

    from bridge.errors import MediaError

    try:
        with av.open(os.fspath(path)) as c:
            frame = next(c.decode(video=0))
    except (OSError, StopIteration, av.error.FFmpegError) as exc:
        raise MediaError(f"{path}: cannot read the image ({exc}); give a PNG or JPEG") from None
    w, h = frame.width, frame.height
    s = min(w, h)
    img = frame.to_ndarray(format="rgb24")[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    sq = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
    return sq.reformat(width=size, height=size, format="rgb24").to_ndarray().astype(np.float32) / 255


def fit(params, target: np.ndarray, *, steps: int, checkpoints=(), batch_z: int = 4,
        lr: float = 3e-3, seed: int = 0, log=print):
    """Adam on the image at random latents; returns ``(params, [{steps, psnr, sensitivity}])``
    with a row for step 0, every checkpoint and the end."""
    import jax
    import jax.numpy as jnp
    import optax

    h, w = target.shape[:2]
    coords = jnp.asarray(grid(w, h))
    y = jnp.asarray(target.reshape(1, -1, 3))
    n_z = params[0][1].shape[0]
    p = jax.tree_util.tree_map(jnp.asarray, params)
    opt = optax.adam(lr)
    state = opt.init(p)

    def loss(p, z):
        return jnp.mean((forward(p, coords, z, xp=jnp) - y) ** 2)

    @jax.jit
    def step(p, state, z):
        value, grads = jax.value_and_grad(loss)(p, z)
        updates, state = opt.update(grads, state, p)
        return optax.apply_updates(p, updates), state, value

    rng = np.random.default_rng(seed)
    marks = sorted({0, steps, *[c for c in checkpoints if 0 < c < steps]})
    rows, done = [], 0

    def record():
        q = numpy_params(p)
        rows.append({"steps": done, "psnr": psnr(q, target), "sensitivity": sensitivity(q)})
        log(f"step {done}: PSNR {rows[-1]['psnr']:.2f} dB, sensitivity "
            f"{rows[-1]['sensitivity']:.2f} /255 per unit z")
        return q

    snaps = {}
    for mark in marks:
        while done < mark:
            p, state, _ = step(p, state, jnp.asarray(latents(rng, batch_z, n_z)))
            done += 1
        snaps[mark] = record()
    return snaps, rows


def numpy_params(p) -> list:
    return [tuple(np.asarray(a, dtype=np.float32) for a in layer) for layer in p]


def make_fitted(out: str, image: str, *, seed: int, steps: int, size: int = 96,
                n_z: int = DEFAULT_BANDS, width: int = 32, depth: int = 5,
                init_scale: float = 3.0, z_scale: float = 1.0, checkpoints=(), log=print):
    """Fit a seed's CPPN to ``image`` and write it; returns the trade-off rows."""
    target = load_image(image, size)
    params = init_params(seed, n_z=n_z, width=width, depth=depth, init_scale=init_scale,
                         z_scale=z_scale)
    snaps, rows = fit(params, target, steps=steps, checkpoints=checkpoints, log=log)
    with open(image, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    end = rows[-1]
    info = params_info(snaps[steps], seed=seed, init_scale=init_scale, z_scale=z_scale,
                       sensitivity=end["sensitivity"],
                       fit={"image": os.path.basename(image), "image_sha256": digest,
                            "size": size, "steps": steps, "psnr": end["psnr"],
                            "tradeoff": rows})
    write(out, to_onnx(snaps[steps], spec=z_spec(n_z), info=info,
                       description=f"CPPN fitted to {os.path.basename(image)}, {steps} steps"))
    return rows, snaps


# ---- the trade-off report --------------------------------------------------------------------------
def tradeoff_report(rows: list[dict], snaps: dict, target: np.ndarray, out_dir: str, *,
                    image: str, seed: int) -> str:
    """``tradeoff.md`` (the table) and ``tradeoff.png`` (PSNR and sensitivity against steps, and
    the picture at each checkpoint) in ``out_dir``; returns the markdown."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    steps = [r["steps"] for r in rows]
    fig = plt.figure(figsize=(2.0 * max(4, len(rows)), 5.2))
    grid_spec = fig.add_gridspec(2, len(rows), height_ratios=[1.4, 1])
    ax = fig.add_subplot(grid_spec[0, :])
    x = [max(s, 1) for s in steps]
    ax.plot(x, [r["psnr"] for r in rows], "o-", color="C0")
    ax.set_xscale("log")
    ax.set_xlabel("training steps (step 0 drawn at 1)")
    ax.set_ylabel("PSNR to the image (dB)", color="C0")
    ax2 = ax.twinx()
    ax2.plot(x, [r["sensitivity"] for r in rows], "s--", color="C3")
    ax2.set_ylabel("sensitivity (/255 per unit z)", color="C3")
    ax.set_title(f"CPPN fitted to {os.path.basename(image)} (seed {seed}): fit vs audio sensitivity")
    rng = np.random.default_rng(5)
    z = latents(rng, 1, snaps[steps[0]][0][1].shape[0])
    h, w = target.shape[:2]
    for i, s in enumerate(steps):
        a = fig.add_subplot(grid_spec[1, i])
        a.imshow(forward(snaps[s], grid(w, h), z)[0].reshape(h, w, 3))
        a.set_title(f"{s} steps", fontsize=8)
        a.axis("off")
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "tradeoff.png"), dpi=60)
    plt.close(fig)
    lines = ["| steps | PSNR (dB) | sensitivity (/255 per unit z) |", "|---|---|---|"]
    lines += [f"| {r['steps']} | {r['psnr']:.2f} | {r['sensitivity']:.2f} |" for r in rows]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out_dir, "tradeoff.md"), "w") as f:
        f.write(text)
    return text


def synthetic_cover(size: int = 128) -> np.ndarray:
    """A made-up album cover (sunset gradient, a sun, horizon stripes), uint8 ``(size, size, 3)``:
    a reference image anyone can rebuild, free of any licence."""
    v = np.linspace(0, 1, size)[:, None] * np.ones((1, size))
    u = np.ones((size, 1)) * np.linspace(0, 1, size)[None, :]
    sky = np.stack([0.95 - 0.3 * v, 0.35 + 0.3 * v, 0.55 - 0.35 * v], -1)
    sun = np.hypot(u - 0.5, v - 0.45) < 0.22
    sky[sun] = (1.0, 0.85, 0.3)
    sea = v > 0.6
    stripes = (np.sin(v * 70) > 0) & sea
    sky[sea] = np.stack([0.1 + 0 * v, 0.15 + 0.2 * (1 - v), 0.35 + 0.2 * v], -1)[sea]
    sky[stripes] *= 1.6
    return (np.clip(sky, 0, 1) * 255).astype(np.uint8)
