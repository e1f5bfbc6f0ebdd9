"""The mappings and models vjbridge ships, found inside the ``bridge`` package.

Why package data: a TouchDesigner user on Windows or macOS runs ``pip install vjbridge`` and never
sees a checkout, so ``vjbridge run`` must find ``default.yaml`` and the ``.onnx`` models wherever
pip put the package; a path relative to the source tree points nowhere in an installed wheel.

How, with one code path for a checkout and an installed wheel: the files live in the top-level
``mappings/`` and ``onnx_models/`` folders (what users browse), and ``bridge/shipped/mappings`` and
``bridge/shipped/models`` are relative symlinks to them. In a checkout (editable install, or the
source tree on ``PYTHONPATH``) ``importlib.resources.files("bridge") / "shipped"`` resolves through
the links; when setuptools builds the wheel it follows them and copies the files themselves (only
the patterns in ``pyproject.toml``: mappings, models, their cards, not the study or the held-out
corpus), so an installed package holds real files at the same place. No build step, no second
lookup, nothing to keep in sync. Alternatives rejected: a build hook copying the folders into the
package (an editable install would then need a second way to find them), and moving the files into
the package (the top-level folders must stay what users browse).

Windows checkouts: git for Windows writes a symlink as a small text file unless ``core.symlinks``
is on, so there the shipped folder is a file, not a folder; :func:`shipped_dir` says exactly that.
Users installing from PyPI never meet it: the wheel is built on Linux and holds the files.

The models must be real files on disk (onnxruntime loads a path; the mapping reloader polls its
mtime), which they are for every installed wheel (pip never installs a package zipped).
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from bridge.errors import ConfigError, ResourceError

#: Folder inside the ``bridge`` package holding the shipped data.
SHIPPED = "shipped"
#: The shipped model loaded first (the default recipe); other shipped models follow by name.
DEFAULT_MODEL = "motion-weight.onnx"
MAPPING_SUFFIXES = (".yaml", ".yml")
REINSTALL = "reinstall with `pip install --force-reinstall vjbridge`"


def shipped_dir(kind: str) -> Path:
    """``bridge/shipped/<kind>`` (``"mappings"`` or ``"models"``) as a folder on disk;
    :class:`ResourceError` naming the path and the fix when it is missing or not a folder."""
    root = importlib.resources.files("bridge").joinpath(SHIPPED).joinpath(kind)  # 3.10: one a call
    if not isinstance(root, Path):  # e.g. a zipped package: onnxruntime needs files on disk
        raise ResourceError(f"vjbridge's shipped {kind} are not files on disk ({root}): install "
                            "the package unzipped (pip does)")
    if root.is_file():  # a symlink checked out as text (git for Windows without core.symlinks)
        raise ResourceError(f"{root} is a plain file, not a folder: this checkout was made without "
                            "symlinks; clone again with `git clone -c core.symlinks=true` "
                            "(Windows: enable Developer Mode), or `pip install vjbridge`")
    if not root.is_dir():
        raise ResourceError(f"vjbridge's shipped {kind} folder {root} is missing: {REINSTALL} "
                            "(a package built from a git checkout without symlinks lacks it)")
    return root


def mappings_dir() -> Path:
    return shipped_dir("mappings")


def models_dir() -> Path:
    return shipped_dir("models")


def shipped_mapping_names() -> list[str]:
    """Names of the shipped mappings (file stems), e.g. ``["default", "lighting-desk-midi", ...]``."""
    return sorted(p.stem for p in mappings_dir().glob("*.yaml"))


def shipped_mapping(name: str = "default") -> Path:
    """The shipped mapping ``name`` (its stem, e.g. ``"default"``); :class:`ConfigError` listing
    the shipped names when there is none by that name."""
    path = mappings_dir() / f"{name}.yaml"
    if not path.is_file():
        import difflib

        names = shipped_mapping_names()
        near = difflib.get_close_matches(str(name), names, n=1, cutoff=0.6)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise ConfigError(f"no shipped mapping named {name!r}; {hint}(shipped: "
                          f"{', '.join(names) or 'none'}); for a file, give its path: ./{name}")
    return path


def is_mapping_name(text: str) -> bool:
    """True when ``text`` names a shipped mapping rather than a file: no folder separator and no
    ``.yaml``/``.yml`` suffix (``default``, not ``./default`` or ``my.yaml``). A fixed rule, not a
    look at the disk, so ``default`` means the same mapping in every working directory."""
    return not any(sep in text for sep in "/\\") and not text.lower().endswith(MAPPING_SUFFIXES)


def resolve_mapping(text: str) -> Path:
    """A ``--mapping`` value as a file: a shipped mapping's name, else the path as given."""
    return shipped_mapping(text) if is_mapping_name(text) else Path(text)


def shipped_models() -> list[Path]:
    """The shipped ``.onnx`` models, :data:`DEFAULT_MODEL` first, then by name; ``[]`` when the
    folder holds none (the bridge then runs the classic signals only and says so)."""
    return sorted(models_dir().glob("*.onnx"), key=lambda p: (p.name != DEFAULT_MODEL, p.name))
