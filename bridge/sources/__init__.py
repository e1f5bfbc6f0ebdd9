"""Audio sources for the live engine: a sound-card input, a file played in real time, the demo.

Every source hands the engine :class:`~bridge.sources.base.Block` items through one bounded queue;
the producer (PortAudio callback or pacing thread) never does any work and never blocks. Heavy
imports (sounddevice, PyAV) happen only when a source starts.
"""

from bridge.sources.base import FINISHED, LOST, RUNNING, STARTING, STOPPED, Block, Source
from bridge.sources.demo import DemoSource
from bridge.sources.device import DeviceSource, find_input
from bridge.sources.file import FileSource

__all__ = ["Block", "DemoSource", "DeviceSource", "FileSource", "Source", "find_input",
           "FINISHED", "LOST", "RUNNING", "STARTING", "STOPPED"]
