"""The OSC schema document is generated from the catalog and checked against it."""

from bridge.signals import CLASSIC, Catalog
from bridge.signals.catalog import ENERGY, MUSICAL, PEAKS, SPECTRUM
from bridge.signals.schema_doc import (BEGIN, END, check_readme, main, readme_section,
                                       render_markdown, update_readme)


def _readme(table: str) -> str:
    return f"# vjbridge\n\nintro\n\n## OSC addresses\n\n{BEGIN}\n{table}\n{END}\n\n## More\n"


def test_table_has_every_address_with_type_range_and_rate():
    md = render_markdown()
    rows = [line for line in md.splitlines() if line.startswith("| `/vjbridge/")]
    assert len(rows) == len(CLASSIC) + len(SPECTRUM) + len(PEAKS) + len(MUSICAL) + len(ENERGY)
    for signal, row in zip(CLASSIC.values(), rows):
        assert row.startswith(f"| `{signal.address}` | float32 |") and "60 Hz" in row
    assert rows[len(CLASSIC)].startswith("| `/vjbridge/mel` | 64 × float32 | 0 … 1 | level |")
    assert rows[len(CLASSIC) + 1].startswith("| `/vjbridge/geq` | 16 × float32 | 0 … 1 | level |")
    assert "| `/vjbridge/majorpeak` | float32 | 0 … 11025 | Hz |" in md
    assert "| `/vjbridge/energy` | float32 | 0 … 1 | level |" in md
    assert "| `/vjbridge/morph` | float32 | 0 … 1 | phase |" in md
    assert "| `/vjbridge/kick` | float32 | 0 or 1 |" in md
    assert "| `/vjbridge/spectralcentroid` | float32 | 0 … 11025 | Hz |" in md
    assert "| `/vjbridge/speed` | float32 | 0.5 … 1.66667 | rate multiplier |" in md


def test_model_outputs_appear_when_declared():
    cat = Catalog()
    cat.declare_model_output("motion", range=(0, 1), description="motion energy", model="m")
    assert "| `/vjbridge/motion` | float32 | 0 … 1 |" in render_markdown(cat)
    assert "/vjbridge/motion" not in render_markdown()


def test_check_readme_agrees_and_catches_drift():
    good = _readme(render_markdown())
    assert readme_section(good).strip() == render_markdown().strip()
    assert check_readme(good) == []
    drifted = good.replace("| `/vjbridge/low` | float32 | 0 … 1 |", "| `/vjbridge/low` | float32 | 0 … 2 |")
    problems = check_readme(drifted)
    assert problems and "differs" in problems[0] and any("0 … 2" in p for p in problems)
    cat = Catalog()
    cat.declare_model_output("weight", model="w")
    assert check_readme(good, cat)  # code declares more than the doc shows
    assert "no OSC schema section" in check_readme("# a README without markers")[0]


def test_update_readme_regenerates_only_the_section(tmp_path):
    stale = _readme("| old table |")
    fresh = update_readme(stale)
    assert check_readme(fresh) == [] and fresh.startswith("# vjbridge\n\nintro") and "## More" in fresh
    path = tmp_path / "README.md"
    path.write_text(stale)
    assert main([str(path)]) == 1
    assert main([str(path), "--write"]) == 0
    assert main([str(path)]) == 0 and check_readme(path.read_text()) == []
