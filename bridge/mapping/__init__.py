"""Mappings: YAML routes from signals to OSC/MIDI outputs, validated against one declared schema.

See :mod:`.schema` (the declarations), :mod:`.validate` (every error with its key path),
:mod:`.transforms` (per-route stages), :mod:`.router` (values in, per-sink outputs out) and
:mod:`.outputs` (a router plus its opened sinks: what the engine drives).
"""

from bridge.mapping.outputs import Outputs
from bridge.mapping.router import Router
from bridge.mapping.validate import Mapping, known_signals, load_mapping, validate

__all__ = ["Mapping", "Outputs", "Router", "known_signals", "load_mapping", "validate"]
