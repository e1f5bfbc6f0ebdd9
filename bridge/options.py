"""Declared options: one key's kind, default, range and description, and sections of them.

Why its own module: the mapping schema, the run configuration and every output kind (in
:mod:`bridge.sinks`) declare their options with these two types, and the validator, ``vjbridge
check --schema`` and the generated references read the same declarations. Sinks must not import
the mapping layer, so the types live below both.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\Z")


@dataclass(frozen=True)
class Option:
    """One key: its kind, default, accepted range or choices, and what it does.

    ``kind`` is one of ``number``, ``int``, ``bool``, ``str``, ``choice``, ``range`` (two numbers),
    ``address`` (an OSC address), ``host`` (a host name or IP address), ``signal`` (a signal name from the catalog), ``palette`` (a list
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


def host_problem(host: str) -> str | None:
    """Why ``host`` is neither an IP address nor a DNS name (None when it is one), checked before
    any lookup: a NUL byte, a space or a 300-character label would otherwise pass ``vjbridge
    check`` and stop ``run`` at its first lookup. IPv6 literals may carry a ``%zone``; names may be
    internationalised (checked in their IDNA form) and end in a dot."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0] if ":" in host else host)
        return None
    except ValueError:
        pass
    try:
        ascii_name = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        ascii_name = None
    name = ascii_name[:-1] if ascii_name and ascii_name.endswith(".") else ascii_name
    if name and len(name) <= 253 and all(_LABEL.match(label) for label in name.split(".")):
        return None
    return (f"{host!r} is not a host name or IP address (letters, digits, '-' and '_' in labels of "
            "at most 63 between dots, 253 in all; e.g. 127.0.0.1, ::1 or desk.local)")
