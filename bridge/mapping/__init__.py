"""Mappings: YAML routes from signals to outputs, validated against one declared schema.

The output kinds (OSC, MIDI, ...) are plug-ins in :data:`bridge.sinks.KINDS`: this package walks
that registry and names none of them. See :mod:`.schema` (the declarations), :mod:`.validate` (every error with its key path),
:mod:`.transforms` (per-route stages), :mod:`.router` (values in, per-sink outputs out) and
:mod:`.outputs` (a router plus its opened sinks: what the engine drives).
"""

from bridge.mapping.outputs import Outputs
from bridge.mapping.router import Router
from bridge.mapping.validate import Mapping, known_signals, load_mapping, validate

__all__ = ["Mapping", "Outputs", "Router", "known_signals", "load_mapping", "validate"]
