"""The component's pure modules (no TouchDesigner object) import from td_components/vjbridge the
way TouchDesigner's import falls back to the file system."""

import sys

import pytest

from tests.td.helpers import SRC


@pytest.fixture(scope="session", autouse=True)
def component_on_path():
    if str(SRC) not in sys.path:
        sys.path.insert(0, str(SRC))
    yield
