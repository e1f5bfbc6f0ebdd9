"""The catalog: declarations, did-you-mean, model outputs, and agreement with ClassicSignals."""

import math

import pytest

from bridge.errors import ConfigError, SignalError
from bridge.signals import CATALOG, CLASSIC, Catalog, ClassicSignals, lookup
from tests.signals.conftest import SPEC


def test_classic_names_an_audioanalysis_user_recognises():
    for name in ("low", "mid", "high", "rms", "onset", "kick", "snare", "spectralcentroid",
                 "beat", "bpm"):
        assert name in CLASSIC
    assert CLASSIC["kick"].kind == "trigger" and CLASSIC["beat"].kind == "trigger"
    assert CLASSIC["bpm"].kind == "tempo"
    assert CLASSIC["low"].address == "/vjbridge/low"
    assert all(s.source == "classic" and s.description for s in CLASSIC.values())


def test_classic_signals_columns_follow_the_catalog():
    assert ClassicSignals(SPEC).names == tuple(CLASSIC)


@pytest.mark.parametrize("typo, expected", [("lwo", "low"), ("kik", "kick"), ("spectral_centroid",
                                            "spectralcentroid"), ("bmp", "bpm")])
def test_unknown_name_raises_with_did_you_mean(typo, expected):
    with pytest.raises(SignalError, match=f"Did you mean '{expected}'"):
        lookup(typo)
    with pytest.raises(ConfigError):  # a SignalError is a ConfigError (CLI prints one line)
        Catalog()[typo]


def test_unknown_name_without_close_match_lists_the_known_ones():
    with pytest.raises(SignalError) as info:
        lookup("zzzzzz")
    assert "Did you mean" not in str(info.value) and "low" in str(info.value)
    assert "\n" not in str(info.value)


def test_model_outputs_are_declared_at_run_time():
    global_before = dict(CATALOG.signals)  # other tests may have loaded models into the global one
    cat = Catalog()
    assert "motion" not in cat
    s = cat.declare_model_output("motion", range=(0, 1), description="optical-flow energy",
                                 model="motion-v1")
    assert cat["motion"] is s and s.source == "model" and s.address == "/vjbridge/motion"
    assert cat.declare_model_output("motion", range=(0, 1), model="motion-v1") is s  # reload
    assert cat.names(source="model") == ("motion",)
    with pytest.raises(SignalError, match="already declared"):
        cat.declare_model_output("motion", range=(0, 2), model="other")
    with pytest.raises(SignalError, match="classic signal"):
        cat.declare_model_output("low", model="bad")
    with pytest.raises(SignalError, match="not valid"):
        cat.declare_model_output("Motion/x")
    with pytest.raises(SignalError, match="low < high"):
        cat.declare_model_output("r", range=(1, 1))
    cat.remove_model_outputs("motion-v1")
    assert "motion" not in cat and "low" in cat
    assert CATALOG.signals == global_before  # a Catalog() is independent of the process-wide one


def test_by_address_and_ranges():
    cat = Catalog()
    assert cat.by_address("/vjbridge/bpm").name == "bpm"
    with pytest.raises(SignalError, match="Did you mean 'bpm'"):
        cat.by_address("/vjbridge/bmp")
    assert CLASSIC["onsetraw"].range == (0.0, math.inf)
    assert CLASSIC["spectralcentroid"].range[1] == SPEC.sample_rate / 2
