"""`DeviceSource`: a sound-card input through sounddevice (PortAudio), surviving unplugging.

Why the structure:

* The PortAudio callback only copies the block into the bounded queue (see :mod:`.base`).
* The device is opened at its own default rate; the engine resamples to the spec rate in-stream, so
  any card works and the features are the ones the models were trained on.
* A small supervisor thread (no audio work) watches the stream. When the device disappears (the
  stream finishes by itself, or no callback arrives for ``stall_seconds``) it logs once, marks the
  source ``lost`` (the engine then holds or idles its outputs) and retries *by name* every
  ``retry_seconds``. PortAudio enumerates devices only when it initialises, so each retry
  re-initialises it (:func:`bridge.sources.portaudio.rescan`) to see a device that came back. When the
  device is found again the stream reopens, :attr:`generation` bumps (the engine resets its
  resampler and extractor: the audio is discontinuous) and a second log line says so.
* ``latency="auto"`` (``vjbridge run``'s default) opens at PortAudio's "low" input latency (the
  driver's smaller buffer: 3-6 ms sooner on a PulseAudio device, tests/bench/latency) and falls
  back to "high" once, saying so, when the driver overflows there (:data:`FALLBACK_OVERFLOWS`
  after the stream's first second): a machine that cannot keep up gets a steady input instead
  of drop-outs, and the operator reads why in the log and on the status page.
"""

from __future__ import annotations

import logging
import time

from bridge.errors import DeviceError
from bridge.sources.rate import device_rate
from bridge.sources.base import LOST, RUNNING, STARTING
from bridge.sources.portaudio import rescan
from bridge.sources.supervised import SupervisedSource

log = logging.getLogger(__name__)

#: Driver overflows at the low input latency, after a stream's first second, that make
#: ``latency="auto"`` reopen at "high" (one at the start of a stream is common and harmless).
FALLBACK_OVERFLOWS = 2
#: Input latencies a device accepts besides seconds: PortAudio's two, and auto (see above).
LATENCY_WORDS = ("low", "high", "auto")


def input_devices(devices) -> list[dict]:
    """The devices (dicts as ``sd.query_devices()`` gives) that can record."""
    return [dict(d) for d in devices if d.get("max_input_channels", 0) > 0]


def describe_inputs(devices) -> str:
    inputs = input_devices(devices)
    if not inputs:
        return "none found (is a sound card connected, or PulseAudio/PipeWire/JACK running?)"
    return ", ".join(f"{d['index']} {d['name']!r}" for d in inputs)


def find_input(query, devices, *, default_hostapi: int | None = None) -> dict:
    """Resolve ``query`` (an index, or a case-insensitive name substring) to one input device.

    An exact name wins over substrings; among several substring matches, those of the default host
    API win (Windows lists one card under MME, DirectSound and WASAPI). Anything still ambiguous or
    missing is a :class:`DeviceError` listing the inputs.
    """
    inputs = input_devices(devices)
    listing = describe_inputs(devices)
    text = str(query).strip()
    if text.lstrip("-").isdigit():
        index = int(text)
        for d in inputs:
            if d["index"] == index:
                return d
        raise DeviceError(f"no audio input with index {index}; available inputs: {listing}")
    exact = [d for d in inputs if d["name"].lower() == text.lower()]
    if exact:
        return exact[0]
    matches = [d for d in inputs if text.lower() in d["name"].lower()]
    if len(matches) > 1 and default_hostapi is not None:
        preferred = [d for d in matches if d.get("hostapi") == default_hostapi]
        matches = preferred or matches
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise DeviceError(f"no audio input matches {text!r}; available inputs: {listing} "
                          "(use --device NAME or INDEX, see `vjbridge devices`)")
    names = ", ".join(f"{d['index']} {d['name']!r}" for d in matches)
    raise DeviceError(f"--device {text!r} matches several inputs: {names}; give more of the name "
                      "or the index")


def default_input(devices, default_index: int) -> dict | None:
    """The system's default input device, or the first input, or ``None`` when there is none."""
    inputs = input_devices(devices)
    for d in inputs:
        if d["index"] == default_index:
            return d
    return inputs[0] if inputs else None


class DeviceSource(SupervisedSource):
    """Records ``query`` (index or name substring; ``None`` = the default input)."""

    kind = "device"
    supervisor_name = "device-supervisor"

    def __init__(self, query=None, *, block_seconds: float = 0.01, channels: int = 2,
                 retry_seconds: float = 1.0, stall_seconds: float = 1.5, queue_blocks: int = 256,
                 latency: float | str = "high", wait: bool = False, rate: float | None = None):
        super().__init__(retry_seconds=retry_seconds, stall_seconds=stall_seconds,
                         queue_blocks=queue_blocks, wait=wait)
        self.rate = rate  # None: the device's own default rate (bridge.sources.rate)
        self.query = query
        self.block_seconds = float(block_seconds)
        # PortAudio's suggested input latency (the driver buffer's size); auto: low, then high
        # for good once the driver overflows at low (see the module docstring)
        self.fallback_latency = "high" if latency == "auto" else None
        self.latency = "low" if latency == "auto" else latency
        self.events = None  # the engine's event record (bridge.runtime.events), set by the engine
        self._opened_at = 0.0
        self._overflows_at_open = 0
        self.max_channels = int(channels)
        self.device: dict | None = None
        self._stream = None  # its finished callback sets _ended

    # -- resolving -------------------------------------------------------------------------------
    def _resolve(self, query) -> dict:
        import sounddevice as sd

        devices = sd.query_devices()
        if query is None:
            d = default_input(devices, sd.default.device[0])
            if d is None:
                raise DeviceError(f"no audio input device: {describe_inputs(devices)}")
            return d
        default_api = None
        try:
            default_api = sd.default.hostapi
        except Exception:  # noqa: BLE001 - no host API at all: resolution fails below anyway
            pass
        return find_input(query, devices, default_hostapi=default_api)

    # -- the callback: copy, stamp, enqueue. Nothing else. ---------------------------------------
    def _callback(self, indata, frames, time_info, status) -> None:
        now = time.perf_counter()
        self._last_callback = now
        if status.input_overflow:
            self.xruns += 1
        self._push(indata.copy(), now)

    def _open(self, device: dict) -> None:
        import sounddevice as sd

        rate = device_rate(device, self.rate)
        channels = max(1, min(self.max_channels, int(device["max_input_channels"])))
        self._ended.clear()
        stream = None
        try:
            stream = sd.InputStream(device=device["index"], samplerate=rate, channels=channels,
                                    dtype="float32", latency=self.latency,
                                    blocksize=max(1, round(rate * self.block_seconds)),
                                    callback=self._callback, finished_callback=self._ended.set)
            self.sample_rate = rate
            self.channels = channels
            self._last_callback = time.perf_counter()
            stream.start()
        except sd.PortAudioError as exc:
            if stream is not None:
                try:
                    stream.close()
                except sd.PortAudioError:
                    pass
            raise DeviceError(f"cannot open audio input {device['index']} {device['name']!r} at "
                              f"{rate:g} Hz: {exc}") from None
        self._stream = stream
        self.input_latency = float(stream.latency)
        self.device = device
        self._opened_at = time.perf_counter()
        self._overflows_at_open = self.xruns

    def _close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception as exc:  # noqa: BLE001 - a vanished device may refuse; it is gone anyway
                log.debug("closing the lost stream: %s", exc)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        try:
            device = self._resolve(self.query)
        except DeviceError as exc:
            self._wait_or_raise(exc)
            self._start_supervisor()
            return
        self.generation += 1
        for attempt in range(3):  # a busy machine can time PortAudio's stream start out: retry
            try:
                self._open(device)
                break
            except DeviceError as exc:
                if attempt == 2:
                    raise
                log.info("%s; retrying", exc)
                self._close()
                time.sleep(0.5)
        self.state = RUNNING
        self._start_supervisor()

    def _loss_reason(self) -> str | None:
        stalled = self._stalled()
        if self._ended.is_set() or stalled or not self._stream.active:
            return "stopped delivering audio" if stalled else "disappeared"
        return None

    def _watch(self) -> None:
        """While running at "low" under ``latency="auto"``: overflows after the stream's first
        second mean the driver cannot keep up; reopen once at "high" and say so."""
        if self.fallback_latency is None:
            return
        if time.perf_counter() - self._opened_at < 1.0:
            self._overflows_at_open = self.xruns
            return
        overflows = self.xruns - self._overflows_at_open
        if overflows < FALLBACK_OVERFLOWS:
            return
        low, self.latency, self.fallback_latency = self.latency, self.fallback_latency, None
        message = (f"audio input {self.device['name']!r} overflowed {overflows} times at input "
                   f"latency {low!r}: reopened at {self.latency!r} (more delay, no drop-outs; "
                   f"--input-latency {low} keeps {low})")
        if self.events is not None:
            self.events.emit("audio", message, level=logging.WARNING)
        else:
            log.warning("%s", message)
        device = self.device
        self._close()
        self.generation += 1  # the engine resets its pipeline: the audio is discontinuous
        try:
            self._open(device)
        except DeviceError as exc:
            log.warning("%s", exc)
            self._lose("could not be reopened")

    def _input_name(self) -> str:
        return self.device["name"] if self.device else self.query

    def _retry(self) -> None:
        import sounddevice as sd

        try:
            rescan(sd)
            devices = sd.query_devices()
            try:
                if self.device is None and self.query is None:  # waiting for any default input
                    device = default_input(devices, sd.default.device[0])
                    if device is None:
                        return
                else:
                    name = self.device["name"] if self.device else str(self.query)
                    device = find_input(name, devices)
            except DeviceError:
                return  # not back yet: stay quiet, try again in retry_seconds
            self.generation += 1  # blocks from the new stream carry the new generation
            self.state = STARTING
            self._open(device)
        except Exception as exc:  # noqa: BLE001 - keep trying; a half-started device is common
            log.debug("audio input retry failed: %s", exc)
            self._close()
            self.state = LOST
            return
        self.state = RUNNING
        log.warning("audio input %r is back (%g Hz); streaming again", device["name"],
                    self.sample_rate)

    def describe(self) -> str:
        if self.device is None:
            return f"audio input {self.query!r}" if self.query is not None else "default audio input"
        return f"audio input {self.device['index']} {self.device['name']!r}"
