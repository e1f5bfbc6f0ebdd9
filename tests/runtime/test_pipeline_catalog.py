"""Each pipeline declares its models' outputs in its own catalog, never in the process-wide one."""

from bridge.runtime.engine import LIVE_SPEC
from bridge.runtime.pipeline import ModelStage, build, shipped_models
from bridge.signals.catalog import CATALOG


def test_model_outputs_go_to_the_pipelines_own_catalog():
    assert shipped_models(), "onnx_models/ ships no model"
    before = set(CATALOG.names())
    stages, outputs, _ = build(LIVE_SPEC, mapping="default", osc="127.0.0.1:9")
    models = next(s for s in stages if isinstance(s, ModelStage))
    models.start()
    try:
        assert {"motion", "weight"} <= set(models.catalog.names(source="model"))
        assert set(CATALOG.names()) == before  # the global catalog is untouched
        other, _, _ = build(LIVE_SPEC, mapping="default", models=[], osc="127.0.0.1:9")
        assert not any(isinstance(s, ModelStage) for s in other)
        models.start()  # a restart re-declares instead of failing on its own names
        assert models.catalog.names(source="model").count("motion") == 1
    finally:
        models.close()
