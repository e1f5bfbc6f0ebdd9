"""Every error vjbridge raises on purpose, in one tree.

The CLI catches :class:`BridgeError`, prints its message as one line and exits 1. Anything else
escaping is a bug. Messages name what is wrong and how to fix it::

    BridgeError                 base: one clear line for the user
    ├── ConfigError             a value someone configured is invalid (also a ValueError)
    │   ├── SpecError           a FeatureSpec field is out of range
    │   ├── SignalError         an unknown signal name (with did-you-mean) or a conflicting
    │   │                       signal declaration (bridge.signals.catalog)
    │   └── RunConfigError      a run-config file (vjbridge run --config) is invalid;
    │                           ``.problems`` holds every "key.path: what is wrong"
    ├── InputError              audio handed to the extractor is unusable: NaN/inf, wrong shape
    │                           (also a ValueError)
    ├── MediaError              a file cannot be read: missing, corrupt, no audio track
    │                           (also an OSError)
    ├── MappingError            a mapping YAML is invalid or over a limit (bridge.mapping.limits,
    │                           the limit named); ``.problems`` holds EVERY error, each
    │                           "key.path: what is wrong" (also a ValueError)
    ├── SinkError               an output cannot be opened: port in use, unknown MIDI port,
    │                           unresolvable host, the --control or --status-port port taken
    │                           (also an OSError)
    ├── ControlError            a live control message cannot be applied now (no mapping in this
    │                           run, an invalid mapping file): answered with a refusing
    │                           /vjbridge/_ack by bridge.runtime.control, never raised to the CLI
    ├── ModelError              a model file is missing, corrupt, not a vjbridge model, or its
    │   │                       metadata is inconsistent
    │   └── SpecMismatchError   the live extractor cannot serve the model's feature spec
    ├── DatasetError            a training dataset folder is missing, incomplete or inconsistent
    ├── CorpusError             the projectM corpus cannot be built: renderer missing (names the
    │   │                       apt-get line), music package unavailable, hash mismatch
    │   └── PresetError         one Milkdrop preset fails to load or render (skipped, reported)
    ├── ClusterError            the workers of a long job cannot be used: the Dask scheduler
    │                           (--scheduler) unreachable, a worker without vjbridge, local
    │                           workers that keep dying (bridge.training.fanout; also an OSError)
    ├── FolderBusyError         another long job (corpus, dataset) is writing to the same
    │                           output folder (bridge.training.workers.folder_lock)
    ├── DeviceError             an audio input device is not found, ambiguous or cannot be opened;
    │                           the message lists the available inputs (also an OSError)
    └── ResourceError           a mapping or model vjbridge ships is missing from the installed
                                package (bridge.resources; also an OSError)

Later stages (models, mappings, devices, sinks) add their branches here, so a caller can catch
exactly the family it can handle.
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base of every error vjbridge raises deliberately."""


class ConfigError(BridgeError, ValueError):
    """A configured value is invalid; the message names the key and the accepted range."""


class SpecError(ConfigError):
    """A :class:`~bridge.audio.spec.FeatureSpec` field is invalid."""


class SignalError(ConfigError):
    """A signal name is not in the catalog, or a model declares an output that conflicts."""


class RunConfigError(ConfigError):
    """A run-config file is invalid. ``problems`` lists every error found, each with its key path."""

    def __init__(self, problems: list[str], source: str = "run config") -> None:
        self.problems = list(problems)
        self.source = source
        n = len(self.problems)
        super().__init__(f"{source}: {n} problem{'s' if n != 1 else ''}" + ("; " if n else "")
                         + "; ".join(self.problems))


class InputError(BridgeError, ValueError):
    """Audio given to a processing stage cannot be used (non-finite samples, wrong shape)."""


class MediaError(BridgeError, OSError):
    """A media file cannot be read or holds no usable audio."""


class MappingError(BridgeError, ValueError):
    """A mapping is invalid. ``problems`` lists every error found, each starting with its key path."""

    def __init__(self, problems: list[str], source: str = "mapping") -> None:
        self.problems = list(problems)
        self.source = source
        n = len(self.problems)
        head = f"{source}: {n} problem{'s' if n != 1 else ''}"
        super().__init__(head + ("; " if n else "") + "; ".join(self.problems))


class SinkError(BridgeError, OSError):
    """An output (OSC target, MIDI port) cannot be opened or used; the message says how to fix it."""


class ControlError(BridgeError):
    """A live control (``vjbridge run --control``) is refused; the message says what to send."""


class ModelError(BridgeError):
    """A model file cannot be used: missing, corrupt, not a vjbridge ONNX model, bad metadata."""


class SpecMismatchError(ModelError):
    """The live feature spec cannot serve a model (different rate/FFT/mels, or hops not multiples)."""


class DatasetError(BridgeError):
    """A dataset folder (``vjbridge dataset`` output) is missing, incomplete or inconsistent."""


class ClusterError(BridgeError, OSError):
    """The workers of a long offline job cannot be used (an unreachable ``--scheduler``, ...)."""


class FolderBusyError(BridgeError):
    """Another run of a long offline job holds the output folder's lock."""


class DeviceError(BridgeError, OSError):
    """An audio input device cannot be found or opened; the message lists the available inputs."""


class CorpusError(BridgeError):
    """The projectM corpus cannot be built; the message says what to install or fetch."""


class PresetError(CorpusError):
    """One Milkdrop preset fails to load or render; the corpus skips it and reports it."""


class ResourceError(BridgeError, OSError):
    """A file vjbridge ships (mapping, model) is missing from the package; the message says how to
    reinstall or re-clone."""
