"""`JackSource`: a JACK client's capture ports through libjack (the ``JACK-Client`` package), which
survives the JACK server restarting.

Why not PortAudio for JACK: measured here (jackd2 1.9, Debian's libportaudio2 19.6): once the JACK
server is gone, PortAudio's ``Pa_AbortStream`` on the dead stream never returns (over 55 s), and
terminating PortAudio afterwards (needed to see the new server) asserts in ``pa_jack.c`` or
segfaults at interpreter exit; so a PortAudio stream on JACK can be neither closed nor reopened. A
libjack client can: JACK calls its shutdown callback when the server goes, closing the dead client
takes < 1 ms, and a new client connects as soon as a server runs again (~0.2 s). So when the
device the user named belongs to PortAudio's JACK host API and ``JACK-Client`` is installed (the
``jack`` extra: ``pip install 'vjbridge[jack]'``; it needs libjack, which every JACK install has),
the bridge records it here; PortAudio is then terminated at once so that its own JACK client
cannot outlive the server. Every other host API (PulseAudio/PipeWire, ALSA, CoreAudio, WASAPI...)
stays on PortAudio (:mod:`.device`), unchanged.

The supervision is :class:`~bridge.sources.device.DeviceSource`'s (both are
:class:`~bridge.sources.supervised.SupervisedSource`): the JACK process callback only
copies the ports' buffers into the bounded queue (:mod:`.base`); a supervisor thread (no audio work)
notices the loss (shutdown callback, or no callback for ``stall_seconds``), logs once, marks the
source ``lost`` and tries a new client every ``retry_seconds``, connecting to the same JACK client's
capture ports by name; the stream's :attr:`generation` bumps so the engine resets its pipeline.
"""

from __future__ import annotations

import logging
import re
import time

import numpy as np

from bridge.errors import DeviceError
from bridge.sources.base import LOST, RUNNING, STARTING
from bridge.sources.supervised import SupervisedSource

log = logging.getLogger(__name__)

#: The PortAudio host API whose devices are recorded here when JACK-Client is installed.
JACK_HOSTAPI = "JACK Audio Connection Kit"


def available() -> bool:
    """True when the ``jack`` module (JACK-Client) imports (libjack found)."""
    try:
        import jack  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


class JackSource(SupervisedSource):
    """Records the audio output ports of JACK client ``client`` (PortAudio's JACK device name,
    e.g. ``system`` for the sound card's capture ports)."""

    kind = "device"
    supervisor_name = "jack-supervisor"

    def __init__(self, client: str = "system", *, channels: int = 2, retry_seconds: float = 1.0,
                 stall_seconds: float = 1.5, queue_blocks: int = 256, wait: bool = False,
                 name: str = "vjbridge"):
        super().__init__(retry_seconds=retry_seconds, stall_seconds=stall_seconds,
                         queue_blocks=queue_blocks, wait=wait)
        self.client_name = str(client)
        self.max_channels = int(channels)
        self.own_name = name
        self.channels = 0
        self._client = None  # its shutdown callback sets _ended
        self._ports: list = []

    # -- the process callback: copy, stamp, enqueue. Nothing else. -------------------------------
    def _process(self, frames: int) -> None:
        now = time.perf_counter()
        self._last_callback = now
        ports = self._ports
        if len(ports) == 1:
            block = ports[0].get_array().reshape(-1, 1).copy()
        else:
            block = np.stack([p.get_array() for p in ports], axis=1)  # a new array: the copy
        self._push(block, now)

    def _xrun(self, delay: float) -> None:
        self.xruns += 1

    # -- connecting -------------------------------------------------------------------------------
    def _connect(self) -> None:
        import jack

        try:
            client = jack.Client(self.own_name, no_start_server=True)
        except jack.JackError as exc:
            raise DeviceError(f"no JACK server to record {self.client_name!r} from ({exc}); start "
                              "JACK, or choose another input (`vjbridge devices`)") from None
        try:
            sources = client.get_ports(f"^{re.escape(self.client_name)}:", is_audio=True,
                                       is_output=True)
            if not sources:
                raise DeviceError(f"JACK client {self.client_name!r} has no audio outputs to "
                                  "record; see `jack_lsp` or `vjbridge devices`")
            sources = sources[:max(1, self.max_channels)]
            ports = [client.inports.register(f"in_{i + 1}") for i in range(len(sources))]
            self._ports = ports
            self._ended.clear()
            client.set_process_callback(self._process)
            client.set_shutdown_callback(lambda status, reason: self._ended.set())
            client.set_xrun_callback(self._xrun)
            self.sample_rate = float(client.samplerate)
            self.channels = len(ports)
            self.input_latency = client.blocksize / self.sample_rate
            self.generation += 1  # blocks from this client carry the new generation
            self._last_callback = time.perf_counter()
            client.activate()
            for src, dst in zip(sources, ports):
                client.connect(src, dst)
        except BaseException:
            _close_client(client)
            raise
        self._client = client

    def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            _close_client(client)

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        import jack

        # libjack prints every failed connect to stderr ("Cannot connect to server socket..."):
        # once a second while the server is away, a flood in the journal; the supervisor says
        # what matters in one line, so libjack's own messages go to the debug log
        jack.set_error_function(lambda message: log.debug("libjack: %s", message))
        jack.set_info_function(lambda message: log.debug("libjack: %s", message))
        try:
            self._connect()
            self.state = RUNNING
        except DeviceError as exc:
            self._wait_or_raise(exc)
        self._start_supervisor()

    def _loss_reason(self) -> str | None:
        stalled = self._stalled()
        if self._ended.is_set() or stalled:
            return ("stopped delivering audio" if stalled and not self._ended.is_set()
                    else "disappeared (the JACK server stopped)")
        return None

    def _input_name(self) -> str:
        return self.client_name

    def _retry(self) -> None:
        self.state = STARTING
        try:
            self._connect()
        except Exception as exc:  # noqa: BLE001 - not back yet (or half-started): try again
            log.debug("JACK input retry failed: %s", exc)
            self.state = LOST
            return
        self.state = RUNNING
        log.warning("audio input %r is back (JACK, %g Hz); streaming again", self.client_name,
                    self.sample_rate)

    def describe(self) -> str:
        return f"audio input {self.client_name!r} (JACK)"


def _close_client(client) -> None:
    """Deactivate and close ``client``; a dead server's client refuses, and is gone anyway."""
    try:
        client.deactivate(ignore_errors=True)
        client.close(ignore_errors=True)
    except Exception as exc:  # noqa: BLE001
        log.debug("closing the JACK client: %s", exc)
