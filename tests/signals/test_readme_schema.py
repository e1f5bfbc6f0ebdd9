"""The README's OSC address table is generated from the catalog and must agree with it."""

from pathlib import Path

from bridge.signals.schema_doc import check_readme


def test_readme_osc_schema_matches_the_catalog():
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert check_readme(readme) == []
