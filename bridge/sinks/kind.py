"""Output kinds as plug-ins: what a kind declares so the mapping layer can use it without naming it.

Why a declaration: OSC, MIDI, DMX, WLED, ... each need a mapping section (what a target and a route
accept), checks across a route (a 3-value colour cannot go to one MIDI CC), the sink that opens a
target, and how a route's value becomes that sink's messages. When all of that lives in one
:class:`OutputKind`, ``bridge/mapping/`` (validation, the router, ``vjbridge check``, the generated
reference) walks :data:`bridge.sinks.KINDS` and a new kind is one module and one registry line,
not a copy of the OSC code in five places.

A mapping names a kind twice: targets at the top level (``osc: {NAME: {...}}``, the kind's
``target`` section) and per route (``routes[i].osc: {...}``, its ``route`` section, whose optional
``target`` key the mapping layer resolves against the declared targets). Every tick the router
calls each route's :class:`RouteOutput` ``emit(y)`` with the route's current value (a float, or a
tuple for a spectrum or a 3-value colour; the held value when no fresh one came) and hands the
items to the sink opened for ``RouteOutput.key``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bridge.options import Section


@dataclass(frozen=True)
class RouteInfo:
    """What the mapping layer knows about a route, for the kind's checks and its output.

    ``size``: values per tick (1; a spectrum's band count; 3 for a colour sent as rgb, hsv, rgb8
    or palette). ``colour``: the colour wire format (``rgb``, ``hsv``, ``rgb8``, ``brightness``,
    ``palette``, ``channel``) or None. ``spectrum``: the signal is a vector of band values.
    ``idle``: the idle value in output units (``out`` low end unless set). ``kind``: the
    signal's kind from the catalog (``continuous``, ``trigger``, ``tempo``, ``model``, ...) when
    validation knows it, else None.
    """

    signal: str
    path: str  # e.g. "routes[3]": problems are reported under it
    size: int
    out: tuple[float, float]
    idle: float
    rate: float
    colour: str | None = None
    spectrum: bool = False
    kind: str | None = None


class RouteOutput:
    """One route's output to one sink (``key`` = (kind, target name)). The router calls
    :meth:`emit` every tick; ``None`` means "nothing to send this tick"."""

    __slots__ = ("key",)

    def __init__(self, key: tuple[str, str]) -> None:
        self.key = key

    def emit(self, y: Any) -> Any | None:
        """The sink item for the route's current value ``y`` (float or tuple), or None."""
        raise NotImplementedError

    def idle(self) -> Any | None:
        """The item blackout and exit send (the route's idle value), or None."""
        return None

    def release(self) -> Any | None:
        """What must go out when this output is dropped by a mapping swap while it holds
        something (a MIDI note that is on), else None."""
        return None

    def reset(self) -> None:
        """Forget state (as at start-up)."""


def no_problems(*_args) -> list[str]:
    return []


def no_route_check(sub: Mapping, info: RouteInfo, problems: list[str]) -> None:
    return None


def no_target_check(name: str, cfg: Mapping, path: str, problems: list[str]) -> None:
    return None


@dataclass(frozen=True)
class OutputKind:
    """One output kind, declared once.

    - ``target``/``route``: the mapping sections (they drive validation, ``vjbridge check
      --schema`` and the reference, through :mod:`bridge.mapping.schema`).
    - ``open(name, cfg)``: the :class:`~bridge.sinks.base.Sink` for a validated target table
      (:class:`~bridge.errors.SinkError` with one line when it cannot be opened).
    - ``output(sub, info, target_cfg)``: the :class:`RouteOutput` of a validated route table.
    - ``check_route(sub, info, problems)``: cross-checks of a route table that one option cannot
      express (append ``f"{info.path}.{name}...: what; how to fix"``); ``check_target(name, cfg,
      path, problems)`` the same for a target; ``check_mapping(targets, routes, override)``: problems
      of the mapping as a whole for this kind (e.g. OSC bundles over a UDP datagram), where
      ``routes`` are (route table, this kind's table, RouteInfo).
    - ``default_target``: a route may use the kind without declaring a target (a target
      ``default`` with the section's defaults is made).
    - ``override(cfg, value)``: the target table with a command-line override applied (``--osc
      HOST:PORT``, ``--midi NAME``); None = the kind has no override.
    - ``raw_value(sub)``: True when this route table takes the signal's own value (a tempo in BPM
      for a MIDI clock) rather than the transformed one: the route's transforms are then off, and
      setting one is a problem.
    - ``describe_target(name, cfg)``/``describe_route(sub, info)``: the text ``vjbridge check``
      prints.
    """

    name: str
    description: str
    target: Section
    route: Section
    open: Callable[[str, Mapping], Any]
    output: Callable[[Mapping, RouteInfo, Mapping], RouteOutput]
    describe_target: Callable[[str, Mapping], str]
    describe_route: Callable[[Mapping, RouteInfo], str]
    check_route: Callable[[Mapping, RouteInfo, list], None] = no_route_check
    check_target: Callable[[str, Mapping, str, list], None] = no_target_check
    check_mapping: Callable[..., list[str]] = no_problems
    default_target: bool = True
    override: Callable[[Mapping, Any], Mapping] | None = None
    raw_value: Callable[[Mapping], bool] | None = None
