"""Declared options: one key's kind, default, range and description, and sections of them.

Why its own module: the mapping schema, the run configuration and every output kind (in
:mod:`bridge.sinks`) declare their options with these two types, and the validator, ``vjbridge
check --schema`` and the generated references read the same declarations. Sinks must not import
the mapping layer, so the types live below both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Option:
    """One key: its kind, default, accepted range or choices, and what it does.

    ``kind`` is one of ``number``, ``int``, ``bool``, ``str``, ``choice``, ``range`` (two numbers),
    ``address`` (an OSC address), ``signal`` (a signal name from the catalog), ``palette`` (a list
    of colours), ``section`` (one nested table), ``named`` (a table of named sub-tables) or
    ``list`` (a list of sub-tables).
    """

    name: str
    kind: str
    default: Any
    description: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()
    required: bool = False
    nullable: bool = False
    section: "Section | None" = None


@dataclass(frozen=True)
class Section:
    name: str
    description: str
    options: tuple[Option, ...] = field(default_factory=tuple)

    def option(self, name: str) -> Option:
        for opt in self.options:
            if opt.name == name:
                return opt
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [o.name for o in self.options]
