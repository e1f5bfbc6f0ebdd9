"""PEP 562 lazy attributes for a package's ``__init__``: names load from their module on first use.

Why: ``bridge`` and ``bridge.signals`` re-export classes whose modules import numpy, but the signal
catalog and the stream schema below them must import with the standard library alone (the
TouchDesigner component's tests load them where numpy is missing). One helper, so both packages
behave the same: an unknown name is an ordinary AttributeError.
"""

from __future__ import annotations

import importlib


def lazy(package: str, table: dict[str, str], namespace: dict):
    """``__getattr__`` and ``__dir__`` for ``package``: ``table`` maps a public name to the module
    defining it; a loaded name is cached in the package's ``namespace`` (its globals())."""

    def __getattr__(name: str):
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(table) | set(namespace.get("__all__", ())))

    return __getattr__, __dir__
