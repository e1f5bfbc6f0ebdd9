"""Every file in td_components/ parses as Python 3.11 and imports only the standard library or its
own sibling modules (nothing may need installing inside TouchDesigner)."""

from __future__ import annotations

import ast
import sys

from tests.td.helpers import REPO

FILES = sorted((REPO / "td_components").rglob("*.py"))
SIBLINGS = {p.stem for p in FILES}


def imported_modules(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                yield "."  # relative imports do not work for TouchDesigner DAT modules
            else:
                yield node.module.split(".")[0]


def test_there_are_component_files():
    names = {p.name for p in FILES}
    assert {"vjb_osc.py", "vjb_receiver.py", "vjb_chop_callbacks.py", "vjb_daemon.py",
            "vjb_control.py", "build_tox.py"} <= names


def test_files_parse_as_python_3_11():
    for path in FILES:
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 11))


def test_only_standard_library_or_siblings():
    allowed = set(sys.stdlib_module_names) | SIBLINGS
    for path in FILES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        bad = sorted(set(imported_modules(tree)) - allowed)
        assert not bad, f"{path.name} imports {bad}"


def test_every_file_has_a_docstring_saying_why():
    for path in FILES:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert doc and len(doc) > 80, path.name


def test_the_checker_itself_can_fail():
    tree = ast.parse("import numpy\nfrom . import x\n")
    assert set(imported_modules(tree)) - set(sys.stdlib_module_names) == {"numpy", "."}
