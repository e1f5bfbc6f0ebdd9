"""Reusable real peers for tests: liblo's oscdump (UDP and TCP) and a JACK dummy server with
jack_midi_dump. Each starts and stops its own process, waits for readiness by polling, and fails
(never skips) with the apt-get line when its binary is missing.

Recipes: ../shared/notes/real-peers.md. Use them as context managers::

    with OscDump("udp") as dump:          # dump.port, dump.wait_for(n), dump.messages()
    with JackServer() as jack, MidiDump(jack) as midi:   # midi.port == "dumper:input"
"""

from tests.peers.base import free_port, poll, require
from tests.peers.jack import JackServer, MidiDump, jack_default_server, jack_mido_backend
from tests.peers.osc import OscDump, OscLine

__all__ = ["JackServer", "MidiDump", "OscDump", "OscLine", "free_port", "jack_default_server",
           "jack_mido_backend",
           "poll", "require"]
