"""The reload watcher (bridge.runtime.reload) with real UDP sinks on loopback: an edit is read,
validated and its new outputs opened on the watcher's thread; the engine side only assigns."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time

from bridge.mapping.outputs import Outputs
from bridge.runtime.reload import MappingWatcher
from bridge.sinks import KINDS

ONE = """\
osc:
  a: {{host: 127.0.0.1, port: {port}}}
routes:
  - {{signal: rms, osc: {{address: /rms}}}}
"""
TWO = """\
osc:
  a: {{host: 127.0.0.1, port: {port}}}
  b: {{host: 127.0.0.1, port: {port2}}}
routes:
  - {{signal: rms, osc: {{address: /rms, target: a}}}}
  - {{signal: low, osc: {{address: /low, target: b}}}}
"""


class Recording(dict):
    """The sink registry, noting the thread each sink is opened on."""

    def __init__(self):
        super().__init__(KINDS)
        self.opened_on: list[str] = []
        osc = KINDS["osc"]

        def open_(name, cfg):
            self.opened_on.append(threading.current_thread().name)
            return osc.open(name, cfg)

        self["osc"] = dataclasses.replace(osc, open=open_)


def wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_an_edit_is_prepared_off_the_engine_thread_and_switched_by_assignment(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(ONE.format(port=9))
    registry = Recording()
    reports = []
    outputs = Outputs(path, kinds=registry)
    watcher = MappingWatcher(outputs, report=lambda level, msg: reports.append((level, msg)),
                             interval=0.05).start()
    try:
        assert registry.opened_on == ["MainThread"]  # the start-up open
        time.sleep(0.1)
        path.write_text(TWO.format(port=9, port2=10))
        os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))  # a new mtime, surely
        prepared = wait(watcher.take)
        assert registry.opened_on == ["MainThread", "mapping-watcher"]  # target b, off-thread
        assert ("osc", "b") not in outputs.sinks  # nothing live changed yet
        problems = outputs.switch(prepared, close=watcher.retire)
        watcher.applied(prepared, problems)
        assert problems == [] and ("osc", "b") in outputs.sinks
        assert len(outputs.mapping.routes) == 2
        # the engine-side switch opened nothing itself: only assignments (no timing asserted)
        assert registry.opened_on == ["MainThread", "mapping-watcher"]
        assert reports[-1][0] == logging.INFO and "reloaded: 2 routes" in reports[-1][1]
        # a broken edit: reported once, nothing prepared, the last good mapping stays
        # (the watcher may have caught TWO half-written and refused it: count from here)
        before = len(reports)
        path.write_text("routes: [{signal: nosuch}]\n")
        wait(lambda: any(level == logging.ERROR for level, _ in reports[before:]))
        assert watcher.take() is None and len(outputs.mapping.routes) == 2
        errors = [m for level, m in reports[before:] if level == logging.ERROR]
        assert len(errors) == 1 and "unknown signal 'nosuch'" in errors[0]
    finally:
        watcher.close()
        outputs.close()


def test_an_unused_prepared_switch_closes_what_it_opened(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(ONE.format(port=9))
    outputs = Outputs(path)
    try:
        from bridge.mapping.validate import load_mapping

        other = tmp_path / "n.yaml"
        other.write_text(TWO.format(port=9, port2=10))
        prepared = outputs.prepare(load_mapping(other), other)
        sink_b = prepared.sinks[("osc", "b")]
        prepared.discard()
        assert sink_b.closed and not outputs.sinks[("osc", "a")].closed
    finally:
        outputs.close()


def test_a_switch_prepared_against_old_sinks_is_prepared_again(tmp_path):
    """Two switches race (the control port and an edit): the later one still ends consistent."""
    from bridge.mapping.validate import load_mapping

    path = tmp_path / "m.yaml"
    path.write_text(ONE.format(port=9))
    outputs = Outputs(path)
    try:
        other = tmp_path / "n.yaml"
        other.write_text(TWO.format(port=9, port2=10))
        first = outputs.prepare(load_mapping(other), other)
        third = tmp_path / "o.yaml"
        third.write_text(ONE.format(port=11))
        second = outputs.prepare(load_mapping(third), third)
        assert outputs.switch(first) == []
        assert outputs.switch(second) == []  # prepared against the sinks before `first`
        assert set(outputs.sinks) == {("osc", "a")}
        assert outputs.sinks[("osc", "a")].port == 11 and not outputs.sinks[("osc", "a")].closed
    finally:
        outputs.close()


def test_router_swap_takes_over_everything_install_sets(tmp_path):
    """Router.swap(mapping, built) copies _INSTALLED from a router built on another thread; a new
    attribute in _install that is not listed would silently keep the old mapping's value."""
    from bridge.mapping.router import _INSTALLED, Router
    from bridge.mapping.validate import load_mapping

    path = tmp_path / "m.yaml"
    path.write_text(ONE.format(port=9))
    router = Router(load_mapping(path))
    assert set(vars(router)) - {"signals", "_pending"} == set(_INSTALLED)
    other = tmp_path / "n.yaml"
    other.write_text(TWO.format(port=9, port2=10))
    built = Router(load_mapping(other))
    router.swap(built.mapping, built)
    assert router.routes_ is built.routes_ and len(router.tick({"rms": 0.5, "low": 0.5})) == 2
