"""sounddevice's private re-initialisation, used only through bridge.sources.portaudio: the pinned
releases have it, and a release without it degrades to one warning instead of a crash."""

import logging
import types

import sounddevice

from bridge.sources import portaudio


def test_the_pinned_sounddevice_has_the_private_calls():
    # pyproject pins sounddevice to the releases that have these; an upgrade past the pin would
    # show here before it silently stops finding re-plugged cards
    assert callable(sounddevice._terminate) and callable(sounddevice._initialize)
    major, minor = (int(p) for p in sounddevice.__version__.split(".")[:2])
    assert (0, 4) <= (major, minor) < (0, 6)


def test_rescan_terminates_then_initialises():
    calls = []
    fake = types.SimpleNamespace(_terminate=lambda: calls.append("terminate"),
                                 _initialize=lambda: calls.append("initialize"))
    assert portaudio.rescan(fake) is True
    assert calls == ["terminate", "initialize"]


def test_a_sounddevice_without_them_warns_once_and_goes_on(caplog, monkeypatch):
    monkeypatch.setattr(portaudio, "_warned", False)
    fake = types.SimpleNamespace(__version__="9.0")
    with caplog.at_level(logging.WARNING, logger="bridge.sources.portaudio"):
        assert portaudio.rescan(fake) is False
        assert portaudio.rescan(fake) is False
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "9.0" in lines[0] and "restart" in lines[0]
    portaudio.terminate(fake)  # nothing to call: no error


def test_terminate_only_when_initialised():
    calls = []
    fake = types.SimpleNamespace(_terminate=lambda: calls.append(1), _initialized=0)
    portaudio.terminate(fake)
    assert calls == []
    fake._initialized = 1
    portaudio.terminate(fake)
    assert calls == [1]
