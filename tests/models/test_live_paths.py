"""The one-frame (live) fast paths give the batch paths' numbers: context rows, runner, IOBinding."""

import numpy as np
import pytest

from bridge.audio.demo import DemoMusic
from bridge.audio.features import FeatureExtractor
from bridge.audio.spec import FeatureSpec
from bridge.models.context import DEFAULT, ContextBuilder, ContextSpec
from bridge.models.onnx_model import OnnxModel
from bridge.models.runner import ModelRunner
from tests.models.helpers import write_model

LIVE = FeatureSpec(fps=60)

SPECS = [DEFAULT,
         ContextSpec(channels=("loud", "rms_db"), lags=(2,), taus=(3.0,)),
         ContextSpec(channels=("low",), delta=True),
         ContextSpec(channels=("mid", "onset"), lags=(3, 1), taus=(2.0, 5.0), include_frame=False),
         ContextSpec()]


def _frames(n=400, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(-40, 15, (n, 66))
    x[:, 64] = np.abs(rng.normal(0.1, 0.1, n))
    x[:50:7, 64] = 0.0  # digital silence: rms_db floors at -100
    x[:, 65] = np.abs(rng.normal(1, 0.5, n))
    return x


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: str(s.n_outputs()))
def test_context_rows_equal_the_batch_path(spec):
    x = _frames()
    whole = ContextBuilder(spec).process(x)
    b = ContextBuilder(spec)
    rows = np.vstack([b.process(x[i:i + 1]) for i in range(len(x))])
    assert np.abs(rows - whole).max() <= 1e-11  # matrix-vector vs matrix-matrix channel sums
    b, out = ContextBuilder(spec), np.empty(spec.n_outputs())
    for i in range(len(x)):  # process_row into one reused buffer, mixed with batches
        if 100 <= i < 130:
            if i == 100:
                got = b.process(x[100:130])
                assert np.abs(got - whole[100:130]).max() <= 1e-11
            continue
        b.process_row(x[i], out)
        assert np.abs(out - whole[i]).max() <= 1e-11, i


def test_runner_one_frame_at_a_time_equals_the_whole_block(tmp_path):
    model = OnnxModel.load(write_model(tmp_path / "m.onnx"))
    frames = FeatureExtractor(LIVE).process(DemoMusic(22050).read(22050 * 6))
    whole = ModelRunner(model, LIVE).process(frames)
    runner = ModelRunner(model, LIVE)
    ones = np.vstack([runner.process(frames[i:i + 1]) for i in range(len(frames))])
    assert ones.shape == whole.shape and np.abs(ones - whole).max() <= 1e-6
    assert np.isfinite(ones).all() and ones.std(axis=0).min() > 0  # predictions move
    rows = ContextBuilder(model.context).process(frames[:20])
    for r in rows:  # the IOBinding path is the graph's own answer for each row
        assert np.array_equal(model.predict_row(r), model.predict(r[None, :]))


@pytest.mark.parametrize("spec", SPECS[:4], ids=lambda s: str(s.n_outputs()))
def test_context_state_moves_between_the_paths_in_both_directions(spec):
    """Batch first (the row path adopts its state), rows, batch again, then reset(): the row path
    holds the filters' state in its own layout, so every hand-over must carry it exactly."""
    x = _frames(300, seed=11)
    whole = ContextBuilder(spec).process(x)
    b, out = ContextBuilder(spec), np.empty(spec.n_outputs())
    got = [b.process(x[:40])]
    for i in range(40, 200):
        b.process_row(x[i], out)
        got.append(out[None].copy())
    got.append(b.process(x[200:203]))
    for i in range(203, 300):
        got.append(b.process(x[i:i + 1]))
    assert np.abs(np.vstack(got) - whole).max() <= 1e-11
    b.reset()  # a new stream: the first frame sets the state again, on the row path
    for i in range(60):
        b.process_row(x[i], out)
        assert np.abs(out - whole[i]).max() <= 1e-11, i


def test_runner_one_frame_and_batch_calls_alternate(tmp_path):
    """Single live frames and small batches in one stream (the onset ring is shared by both)."""
    model = OnnxModel.load(write_model(tmp_path / "m.onnx"))
    frames = FeatureExtractor(LIVE).process(DemoMusic(22050).read(22050 * 4))
    whole = ModelRunner(model, LIVE).process(frames)
    runner, parts, i = ModelRunner(model, LIVE), [], 0
    for k in [1, 3, 1, 1, 9, 1, 2, 1, 1, 1, 17, 1] * 40:
        parts.append(runner.process(frames[i:i + k]))
        i += k
        if i >= len(frames):
            break
    got = np.concatenate(parts)
    assert len(got) > 200 and np.abs(got - whole[:len(got)]).max() <= 1e-6


def test_predict_row_runs_the_session_directly_and_equals_the_public_call(tmp_path):
    """predict_row calls onnxruntime's C++ session with its binding and one RunOptions (this
    onnxruntime has those internals); the public run_with_iobinding gives the same outputs."""
    import functools

    model = OnnxModel.load(write_model(tmp_path / "m.onnx"))
    rows = np.random.default_rng(2).normal(size=(50, model.n_inputs))
    rows[:, :64] = -40 + 15 * rows[:, :64]
    fast = np.vstack([model.predict_row(r) for r in rows])
    assert model._run.func.__self__ is model._session._sess  # not the fallback
    model._run = functools.partial(model._session.run_with_iobinding, model._binding)
    public = np.vstack([model.predict_row(r) for r in rows])
    one_by_one = np.vstack([model.predict(r[None, :]) for r in rows])  # (a batch GEMM rounds
    assert np.array_equal(fast, public) and np.array_equal(fast, one_by_one)  # differently)
    assert fast.std(axis=0).min() > 0


def test_an_untested_onnxruntime_takes_the_public_call(tmp_path, monkeypatch):
    """The private session call is used only on the onnxruntime versions it was tested with; on
    any other the live path is the public run_with_iobinding, with the same outputs."""
    import onnxruntime as ort

    from bridge.models import onnx_model

    assert onnx_model._internals_tested(ort.__version__)  # this environment's version is tested
    assert not onnx_model._internals_tested("1.99.0") and not onnx_model._internals_tested("2.0")
    assert not onnx_model._internals_tested("nightly")
    path = write_model(tmp_path / "m.onnx")
    rows = np.random.default_rng(5).normal(size=(20, OnnxModel.load(path).n_inputs))
    fast = OnnxModel.load(path)
    want = np.vstack([fast.predict_row(r) for r in rows])
    monkeypatch.setattr(ort, "__version__", "1.99.0")
    public = OnnxModel.load(path)
    got = np.vstack([public.predict_row(r) for r in rows])
    assert public._run.func.__self__ is public._session  # the public method
    assert np.array_equal(got, want)
