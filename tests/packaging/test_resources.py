"""bridge.resources in a checkout: the shipped folders are the top-level ones (through the package's
symlinks), names resolve by a fixed rule, and a missing or symlink-less install says so in one line.
The installed-wheel side of the same code path is tests/packaging/test_wheel.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bridge import resources
from bridge.cli import main
from bridge.errors import ConfigError, ResourceError

REPO = Path(__file__).resolve().parents[2]
#: the checkout's shipped mappings, as the "unknown name" line lists them (the wheel must carry
#: every one)
SHIPPED_NAMES = ", ".join(sorted(p.stem for p in (REPO / "mappings").glob("*.yaml")))


def test_the_shipped_folders_are_the_top_level_ones_through_relative_links():
    assert resources.mappings_dir().samefile(REPO / "mappings")
    assert resources.models_dir().samefile(REPO / "onnx_models")
    # relative links survive a clone to any folder (and are what setuptools follows)
    assert os.readlink(REPO / "bridge" / "shipped" / "mappings") == "../../mappings"
    assert os.readlink(REPO / "bridge" / "shipped" / "models") == "../../onnx_models"


def test_every_top_level_mapping_and_model_is_shipped_default_model_first():
    assert resources.shipped_mapping_names() == sorted(p.stem for p in
                                                       (REPO / "mappings").glob("*.yaml"))
    names = [p.name for p in resources.shipped_models()]
    assert names[0] == resources.DEFAULT_MODEL
    assert sorted(names) == sorted(p.name for p in (REPO / "onnx_models").glob("*.onnx"))
    assert resources.shipped_mapping().samefile(REPO / "mappings" / "default.yaml")


@pytest.mark.parametrize("text, shipped", [
    ("default", True), ("touchdesigner-audioanalysis", True),
    ("./default", False), ("my.yaml", False), ("My.YML", False), ("shows/club", False),
    (r"C:\shows\club", False),
])
def test_a_mapping_value_is_a_shipped_name_or_a_path_by_a_fixed_rule(text, shipped):
    assert resources.is_mapping_name(text) is shipped
    if not shipped:
        assert resources.resolve_mapping(text) == Path(text)
    else:
        assert resources.resolve_mapping(text).parent == resources.mappings_dir()


def test_an_unknown_mapping_name_lists_the_shipped_ones():
    with pytest.raises(ConfigError) as info:
        resources.resolve_mapping("defualt")
    assert str(info.value) == (f"no shipped mapping named 'defualt'; did you mean 'default'? "
                               f"(shipped: {SHIPPED_NAMES}); for a file, give its path: ./defualt")


def _fake_package(monkeypatch, tmp_path) -> Path:
    package = tmp_path / "bridge"
    (package / "shipped").mkdir(parents=True)
    monkeypatch.setattr(resources.importlib.resources, "files",
                        lambda name: package if name == "bridge" else None)
    return package


def test_a_checkout_without_symlinks_says_how_to_clone_again(monkeypatch, tmp_path, capsys):
    package = _fake_package(monkeypatch, tmp_path)
    # what git for Windows writes for a symlink when core.symlinks is off: the target as text
    (package / "shipped" / "mappings").write_text("../../mappings")
    with pytest.raises(ResourceError, match=r"plain file, not a folder.*core\.symlinks=true"):
        resources.mappings_dir()
    assert main(["check", "default"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "git clone -c core.symlinks=true" in err[0], err


def test_a_package_without_its_models_says_reinstall(monkeypatch, tmp_path):
    _fake_package(monkeypatch, tmp_path)
    with pytest.raises(ResourceError, match=r"shipped models folder .* is missing: reinstall "
                                            r"with `pip install --force-reinstall vjbridge`"):
        resources.shipped_models()


def test_run_with_an_unknown_mapping_name_fails_in_one_line(capsys):
    assert main(["run", "--demo", "--no-models", "--mapping", "defualt", "--duration", "0.1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"vjbridge run: error: no shipped mapping named 'defualt'; did you mean "
                   f"'default'? (shipped: {SHIPPED_NAMES}); for a file, give its path: ./defualt"]
